"""Which expansion wins at low NFE: the solver's design space, measured against the peers.

    python -m bench.expansions [--quick] [--benchmarks mixture,digits,...] [--parts ode,reverse_sde]

Every ER-SDE step integrates the model's prediction against a known kernel. In y = x / alpha and
lambda = sigma / alpha, with r = phi(lambda_t) / phi(lambda_s),

    y_t = r y_s + phi(lambda_t) Int_{lambda_t}^{lambda_s} phi'(l) / phi(l)^2 x0(l) dl + noise.

A multistep solver replaces x0(l) by the polynomial through the last k predictions. Which
quantity is interpolated, and in which variable, is the design choice this study varies; the
integrals are exact for every choice (Gauss-Legendre in log lambda, float64), so each row is
that expansion at its best:

- "x0 in lambda": the shipped solver (the paper's expansion, scheme "corrected"). Writing
  x0(l) = sum_k a_k (v(l) - v_s)^k and integrating by parts, a_k (k >= 1) gets the weight
  g_k(lambda_t) + phi(lambda_t) Int k (v - v_s)^(k-1) v'(l) / phi(l) dl with g_k = (v - v_s)^k;
  for v = lambda and k = 1, 2 these are the paper's d + phi_t S1 and d^2 + 2 phi_t S2;
- "x0 in log lambda": DPM-Solver++'s variable (its 2M/3M approximate these integrals);
- "eps in lambda": the noise prediction eps = (y - x0) / lambda integrated as dy = eps dlambda
  (the ODE only): DEIS's exponential integrator for VE latents, iPNDM-v's variable-step Adams;
- "eps in log lambda": the same, the polynomial in log lambda;
- a switch: eps in log lambda for the steps that start above lambda = 1 (the data's scale), x0
  in lambda below, each expansion where it measured best (chosen after the rows above ran);
- order 4 (a fourth prediction held), and the last step to sigma = 0 at full order (the x0
  polynomial evaluated at lambda = 0, where the ODE's solution is x0) instead of the prediction;
- "midpoint" instead of exact integrals: the polynomial's value at the middle of the step (in
  its variable) times the order-0 weight 1 - r, which damps the extrapolated slope on long
  steps. x0 in log lambda, order 2, midpoint is DPM-Solver++(2M) (and its SDE variant with
  eta = 1): it reproduces k-diffusion's sample_dpmpp_2m to 1e-13 (tests/bench/test_expansions.py).

A diagnostic row splits the shipped solver's last step (to sigma = 0) into 300 small ones: what
is left is the error of the other steps.

Scores (fixed before any candidate was run on them):
- ODE (part "ode"): the error of each sample against the same start solved by the shipped
  solver at 1000 steps (ipndm_v at 1000 steps agrees with it to ~1e-5 on the EDM models): the
  root mean square over samples and the median sample's error, at NFE 6, 10, 20 and 50. One ODE
  has one answer, so this needs no reference distribution and no floor.
- reverse SDE (part "reverse_sde"): the quality benchmark's score (bench.quality.run_benchmark:
  the Frechet distance to dpmpp_2m_sde at 400 NFE from independent seeds, mean over 3 seeds)
  for the shipped orders 1-3, order 4, and the midpoint and log-lambda variants. The eps expansions are left
  out: eps carries the injected noise, and extrapolating it is what DPM-Solver++ moved away from.
Writes expansions.md and expansions.json.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Callable

import torch

from k_diffusion_ext import per_item_noise_sampler
from k_diffusion_ext.coefficients import _gauss_legendre  # the solver's own nodes, at this study's count

from .common import header, markdown_table, out_dir
from .models import BENCHMARKS, FITTED
from .quality import FULL, QUICK, SEED_STRIDE, run_benchmark, summary
from .samplers import CountingModel, Sampler, ours, peer_samplers, sigmas_for

GAUSS_NODES = 24
PANEL_WIDTH = 0.25  # in log lambda
NOISE_SCALES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"ode": lambda l: l, "reverse_sde": lambda l: l * l}
VARIABLES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "lambda": (lambda l: l, torch.ones_like),             # v(l), v'(l)
    "log lambda": (torch.log, lambda l: 1 / l),
}
ODE_NFES = (6, 10, 20, 50)
ODE_REFERENCE_STEPS = 1000


_NODES, _WEIGHTS = _gauss_legendre(GAUSS_NODES)


def integral(f: Callable[[torch.Tensor], torch.Tensor], lo: float, hi: float) -> float:
    """Int_lo^hi f(l) dl for 0 < lo <= hi, composite Gauss-Legendre in u = log l."""
    u_lo, u_hi = math.log(lo), math.log(hi)
    panels = max(1, math.ceil((u_hi - u_lo) / PANEL_WIDTH))
    edges = torch.linspace(u_lo, u_hi, panels + 1, dtype=torch.float64)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    l = torch.exp((mid[:, None] + half[:, None] * _NODES).reshape(-1))
    return float(((half[:, None] * _WEIGHTS).reshape(-1) * f(l) * l).sum())


def taylor_weights(points: list[float]) -> torch.Tensor:
    """W with a_k = sum_j W[k, j] q_j: the polynomial through (points[j], q_j) as sum_k a_k (v - points[0])^k."""
    dv = torch.tensor([p - points[0] for p in points], dtype=torch.float64)
    return torch.linalg.inv(torch.stack([dv ** k for k in range(len(points))], dim=1))


@torch.no_grad()
def sample_expansion(model: Callable[..., torch.Tensor], x: torch.Tensor, sigmas: torch.Tensor, seed: int,
                     space: str = "edm", *, noise_scale: str = "ode", variable: str = "lambda",
                     predict: str = "x0", order: int = 3, last_step: str = "prediction",
                     integrals: str = "exact", eps_above: float | None = None) -> torch.Tensor:
    """A multistep ER-SDE solver whose expanded quantity, variable and order are arguments
    (see the module docstring); float64 inside, noise from per_item_noise_sampler(x, seed) as
    the shipped solver draws it, so "x0 in lambda" reproduces sample_er_sde.

    eps_above (the ODE only): steps that start above this lambda expand eps in log lambda, the
    others x0 in lambda (`predict` and `variable` are then unused): each where it measured best."""
    for name, value, known in (("noise_scale", noise_scale, NOISE_SCALES), ("variable", variable, VARIABLES),
                               ("predict", predict, ("x0", "eps")), ("last_step", last_step, ("prediction", "extrapolate")),
                               ("integrals", integrals, ("exact", "midpoint")), ("order", order, (1, 2, 3, 4))):
        if value not in known:
            raise ValueError(f"unknown {name} {value!r}; known: {', '.join(map(str, known))}")
    if (predict == "eps" or eps_above is not None) and noise_scale != "ode":
        raise ValueError("the eps expansion is written for the ODE (noise_scale='ode') only")
    phi = NOISE_SCALES[noise_scale]
    s = sigmas.detach().to("cpu", torch.float64)
    a = torch.ones_like(s) if space == "edm" else 1 - s
    lam = (s / a).tolist()
    noise = per_item_noise_sampler(x, seed) if noise_scale != "ode" else None
    history: list[tuple[float, torch.Tensor, torch.Tensor]] = []  # (lambda, x0, eps), newest first
    ones = x.new_ones(x.shape[0])
    for i in range(len(lam) - 1):
        denoised = model(x, sigmas[i] * ones).double()
        lam_s, lam_t = lam[i], lam[i + 1]
        y = x.double() / a[i].item()
        history = [(lam_s, denoised, (y - denoised) / lam_s)] + history[:order - 1]
        if eps_above is not None:
            step_predict, step_variable = ("eps", "log lambda") if lam_s > eps_above else ("x0", "lambda")
        else:
            step_predict, step_variable = predict, variable
        v, dv = VARIABLES[step_variable]
        points = [float(v(torch.tensor(h[0], dtype=torch.float64))) for h in history]
        v_s = points[0]
        if lam_t == 0:
            if last_step == "prediction" or len(history) == 1:
                x = denoised.to(x.dtype)
            else:  # the x0 polynomial in lambda at lambda = 0
                w = taylor_weights([h[0] for h in history])
                x = sum(w[k, j].item() * (-lam_s) ** k * history[j][1]
                        for k in range(len(history)) for j in range(len(history))).to(x.dtype)
            continue
        w = taylor_weights(points)
        column = 1 if step_predict == "x0" else 2  # of a history entry
        coeffs = [sum(w[k, j].item() * history[j][column] for j in range(len(history))) for k in range(len(history))]
        if step_predict == "x0":
            phi_t = float(phi(torch.tensor(lam_t, dtype=torch.float64)))
            r = phi_t / float(phi(torch.tensor(lam_s, dtype=torch.float64)))
            y_t = r * y + (1 - r) * coeffs[0]
            g_t = float(v(torch.tensor(lam_t, dtype=torch.float64))) - v_s
            if integrals == "midpoint":  # the polynomial at the step's middle in v, times the order-0 kernel
                for k in range(1, len(coeffs)):
                    y_t = y_t + (1 - r) * (g_t / 2) ** k * coeffs[k]
            for k in range(1, len(coeffs) if integrals == "exact" else 1):
                kernel = integral(lambda l, k=k: k * (v(l) - v_s) ** (k - 1) * dv(l) / phi(l), lam_t, lam_s)
                y_t = y_t + (g_t ** k + phi_t * kernel) * coeffs[k]
            variance = lam_t * lam_t - lam_s * lam_s * r * r
            if noise is not None and variance > 1e-14 * lam_t * lam_t:
                y_t = y_t + math.sqrt(variance) * noise(sigmas[i], sigmas[i + 1]).double()
        else:  # y_t = y_s - Int_{lambda_t}^{lambda_s} eps(l) dl
            y_t = y
            for k in range(len(coeffs)):
                y_t = y_t - integral(lambda l, k=k: (v(l) - v_s) ** k, lam_t, lam_s) * coeffs[k]
        x = (y_t * a[i + 1].item()).to(x.dtype)
    return x


def expansion(noise_scale: str, variable: str, predict: str = "x0", order: int = 3, last_step: str = "prediction",
              integrals: str = "exact", eps_above: float | None = None) -> Callable[..., torch.Tensor]:
    def run(model, x, sigmas, seed, space="edm"):
        return sample_expansion(model, x, sigmas, seed, space, noise_scale=noise_scale, variable=variable,
                                predict=predict, order=order, last_step=last_step, integrals=integrals,
                                eps_above=eps_above)
    return run


SHIPPED = "x0 in lambda, order 3 (shipped)"
# How much of the error is the last step's (the jump from the last sigma to the prediction):
# the shipped solver on the same schedule with that step split into many (a diagnostic, not a
# sampler: it spends LAST_STEP_SPLIT - 1 more model calls)
LAST_STEP_DIAGNOSTIC = "shipped, last step split finely (diagnostic)"
LAST_STEP_SPLIT = 300


def last_step_split(run: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """`run` on the same schedule with its last step (to sigma = 0) split into LAST_STEP_SPLIT."""
    def split(model, x, sigmas, seed, space="edm"):
        tail = torch.logspace(math.log10(float(sigmas[-2])), -4, LAST_STEP_SPLIT, dtype=torch.float64)[1:]
        return run(model, x, torch.cat([sigmas[:-1], tail.to(sigmas.dtype), sigmas.new_zeros(1)]), seed, space)
    return split


def ode_candidates() -> dict[str, Callable[..., torch.Tensor]]:
    return {
        SHIPPED: ours(3, "ode"),
        "x0 in lambda, order 4": expansion("ode", "lambda", order=4),
        "x0 in lambda, order 3, full-order last step": expansion("ode", "lambda", last_step="extrapolate"),
        "x0 in log lambda, order 3": expansion("ode", "log lambda"),
        "eps in lambda, order 3": expansion("ode", "lambda", "eps"),
        "eps in log lambda, order 3": expansion("ode", "log lambda", "eps"),
        "eps in log lambda above lambda = 1, x0 in lambda below": expansion("ode", "lambda", eps_above=1.0),
    }


def reverse_sde_candidates() -> list[Sampler]:
    def study(label: str, run: Callable[..., torch.Tensor]) -> Sampler:
        return Sampler(label, run, "reverse_sde", True)
    return [study("ER-SDE-3 (reverse_sde)", ours(3, "reverse_sde")),
            study("ER-SDE-2 (reverse_sde)", ours(2, "reverse_sde")),
            study("ER-SDE-1 (reverse_sde)", ours(1, "reverse_sde")),
            study("x0 in lambda, order 4", expansion("reverse_sde", "lambda", order=4)),
            study("x0 in lambda, order 2, midpoint", expansion("reverse_sde", "lambda", order=2, integrals="midpoint")),
            study("x0 in lambda, order 3, midpoint", expansion("reverse_sde", "lambda", order=3, integrals="midpoint")),
            study("x0 in log lambda, order 2", expansion("reverse_sde", "log lambda", order=2)),
            study("x0 in log lambda, order 3", expansion("reverse_sde", "log lambda")),
            study("x0 in log lambda, order 2, midpoint", expansion("reverse_sde", "log lambda", order=2,
                                                                  integrals="midpoint"))]


def ode_part(name: str, n: int, peers: dict[str, Sampler], log) -> dict:
    problem = BENCHMARKS[name](n)
    start = torch.randn(n, problem.dim, generator=torch.Generator().manual_seed(20261126), dtype=problem.dtype)
    fine = sigmas_for(problem.space, ODE_REFERENCE_STEPS, problem.dtype)
    reference = ours(3, "ode")(problem.model, start * fine[0], fine, 0, problem.space).double()
    runs = dict(ode_candidates())
    runs.update({p: peers[p].run for p in ("ipndm", "ipndm_v", "deis", "dpmpp_2m") if p in peers})
    runs[LAST_STEP_DIAGNOSTIC] = last_step_split(runs[SHIPPED])
    rows: dict[str, dict] = {}
    for label, run in runs.items():
        rows[label] = {}
        for nfe in ODE_NFES:
            sigmas = sigmas_for(problem.space, nfe, problem.dtype)
            counted = CountingModel(problem.model)
            out = run(counted, start * sigmas[0], sigmas, 0, problem.space).double()
            per_sample = (out - reference).pow(2).mean(dim=1).sqrt()
            rows[label][nfe] = {"rms": float(per_sample.pow(2).mean().sqrt()), "median": float(per_sample.median()),
                                "calls": counted.calls}
    log(f"  {name}: ODE part done")
    return {"title": problem.title, "n": n, "rows": rows}


def sde_part(name: str, n: int, seeds: int, ref_nfe: int, peers: dict[str, Sampler], log) -> dict:
    problem = BENCHMARKS[name](n)
    samplers = reverse_sde_candidates() + [peers[p] for p in ("dpmpp_2m_sde", "seeds_3", "dpmpp_3m_sde") if p in peers]
    res = run_benchmark(problem, samplers, n, [k * SEED_STRIDE for k in range(seeds)], log, ref_nfe)
    rows = {s.name: {nfe: summary(res, s.name, nfe, "dist") for nfe in (10, 20, 50)} for s in samplers
            if s.name in res["cells"]}
    ref = res["references"]["reverse_sde"]
    return {"title": problem.title, "n": n, "rows": rows, "floor": ref["floor"], "reference": ref["sampler"]}


def at(cells: dict, nfe: int):
    """A row's cell at an NFE (JSON turns the NFE keys into strings)."""
    return cells[nfe] if nfe in cells else cells[str(nfe)]


def best_of(rows: dict, nfe: int, key) -> str:
    return min((label for label in rows if label != LAST_STEP_DIAGNOSTIC), key=lambda label: key(at(rows[label], nfe)))


def _in_registry_order(tables: dict) -> list[tuple[str, dict]]:
    return sorted(tables.items(), key=lambda item: list(BENCHMARKS).index(item[0]) if item[0] in BENCHMARKS else len(BENCHMARKS))


def report(results: dict) -> str:
    out = []
    if results.get("ode"):
        out.append("## ODE: error against the same start solved at 1000 steps (RMS over samples / median sample)\n")
        for name, res in _in_registry_order(results["ode"]):
            rows = res["rows"]
            out.append(f"### {name}: {res['title']} ({res['n']} samples)\n")
            head = ["expansion / peer"] + [f"NFE {k}" for k in ODE_NFES]
            table = []
            for label, cells in rows.items():
                line = [label]
                for nfe in ODE_NFES:
                    c = at(cells, nfe)
                    best = label == best_of(rows, nfe, lambda c: c["rms"])
                    text = f"{c['rms']:.3g} / {c['median']:.3g}" + ("" if c["calls"] == nfe else f" ({c['calls']} calls)")
                    line.append(f"**{text}**" if best else text)
                table.append(line)
            out.append(markdown_table(head, table))
    if results.get("reverse_sde"):
        out.append("## Reverse SDE: distance to the converged reverse SDE (quality protocol, mean ± std over seeds)\n")
        for name, res in _in_registry_order(results["reverse_sde"]):
            rows = res["rows"]
            out.append(f"### {name}: {res['title']} (reference {res['reference']} at 400 NFE, floor {res['floor']:.3g})\n")
            table = []
            for label, cells in rows.items():
                line = [label]
                for nfe in (10, 20, 50):
                    mean, spread = at(cells, nfe)
                    text = f"{mean:.3g} ± {spread:.2g}"
                    line.append(f"**{text}**" if label == best_of(rows, nfe, lambda c: c[0]) else text)
                table.append(line)
            out.append(markdown_table(["expansion / peer", "NFE 10", "NFE 20", "NFE 50"], table))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.expansions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and seeds, the mixture and digits only")
    parser.add_argument("--benchmarks", default=None, help=f"comma-separated, from {', '.join(BENCHMARKS)}")
    parser.add_argument("--parts", default="ode,reverse_sde")
    parser.add_argument("--out", default=None)
    parser.add_argument("--tag", default="expansions", help="output file stem (to run models in parallel processes)")
    parser.add_argument("--merge", default=None,
                        help="comma-separated tags of finished runs in --out: write their union as --tag, run nothing")
    args = parser.parse_args(argv)
    folder = out_dir(args.out, args.quick)
    torch.set_num_threads(1)
    if args.merge:  # later tags replace earlier ones' tables of the same part and model
        merged: dict = {"notes": [], "ode": {}, "reverse_sde": {}}
        source: dict = {}
        parts = {tag: json.loads((folder / f"{tag}.json").read_text()) for tag in args.merge.split(",")}
        for tag, part in parts.items():
            for key in ("ode", "reverse_sde"):
                merged[key].update(part[key])
                source.update({(key, model): tag for model in part[key]})
        for tag, part in parts.items():
            used = [f"{key} {model}" for (key, model), t in source.items() if t == tag]
            if used:
                merged["notes"].append(f"from `{part.get('command', tag)}`: {', '.join(used)}")
                merged["notes"] += [n for n in part["notes"] if n not in merged["notes"]]
        write(folder, args.tag, merged, ["bench.expansions"] + argv)
        return
    cfg = QUICK if args.quick else FULL
    names = args.benchmarks.split(",") if args.benchmarks else (["mixture", "digits"] if args.quick else list(FITTED))  # held-out models only by name
    unknown = [b for b in names if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    parts = args.parts.split(",")
    peer_list, notes = peer_samplers()
    peers = {p.name: p for p in peer_list}
    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.0f}s] {msg}", file=sys.stderr, flush=True)

    results: dict = {"notes": notes, "ode": {}, "reverse_sde": {}, "command": " ".join(["python -m bench.expansions"] + argv)}
    for name in names:
        n = cfg["mixture_n"] if name == "mixture" else cfg["n"]
        if "ode" in parts:
            results["ode"][name] = ode_part(name, min(n, 500), peers, log)
        if "reverse_sde" in parts:
            results["reverse_sde"][name] = sde_part(name, n, cfg["seeds"], cfg["ref_nfe"], peers, log)
    write(folder, args.tag, results, ["bench.expansions"] + argv)


def write(folder, tag: str, results: dict, command: list[str]) -> None:
    text = header("Expansion study: what the solver interpolates, and in which variable", command)
    text += "".join(f"- note: {note}\n" for note in results["notes"]) + "\n" + report(results)
    (folder / f"{tag}.md").write_text(text)
    (folder / f"{tag}.json").write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    main()
