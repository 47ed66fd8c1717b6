"""Predictor-corrector study: the scheme "predictor_corrector" and its variants against
the corrected scheme at orders 1-3 and every peer of each group.

    python -m bench.pc [--quick] [--benchmarks mixture,...] [--parts ode,reverse_sde,paper] [--nfes 10,20]

Protocol (fixed before any candidate was run on it):
- models: bench.models.BENCHMARKS (the exact mixture, digits, EDM CFG 1/3/6, flow CFG 1/3), the
  quality benchmark's schedules (EDM rho 7 / SD3's shifted flow schedule);
- ODE (part "ode"): each sample's error against the same start solved by the corrected scheme
  at 1000 steps, RMS over the samples (500 by default) and the median sample's; one ODE has one
  answer, so no floor. Peers: ComfyUI's ODE samplers (bench.samplers.COMFY_PEERS group "ode").
- reverse SDE and the paper's noise scale (parts "reverse_sde", "paper"): the quality
  benchmark's score (bench.quality.run_benchmark: Frechet distance to the group's reference
  at --ref-nfe from independent seeds, mean ± std over seeds; its floor is a second
  reference set), with every peer of the group;
- NFE 10 and 20 (50 with --nfes); equal NFE by model calls, as in bench.quality.
Variants (the research directions of issue 15):
- "ER-SDE-k PC": the candidate, scheme "predictor_corrector" at order k (corrector of order k + 1);
- "..., gain (e^h - 1)/h": the top-order term of predictor and corrector scaled by UniPC's
  B(h) / h (bh2; h = log lambda_s / lambda_t), an over-extrapolation that keeps the order;
- "..., corrector of order 3": order 3's corrector through t, s, s-1 only (the predictor's order);
- "..., correction clipped": per item, the correction clipped to the size of the predictor's
  highest-order term (a data-driven guard against rough guided predictions).
Writes pc.md and pc.json (or --tag).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Callable

import torch

from k_diffusion_ext.coefficients import PREDICTOR_CORRECTOR, _plan_steps, validate_alphas, validate_sigmas
from k_diffusion_ext.er_sde import run_plan
from k_diffusion_ext.noise_scales import resolve_noise_scale

from .common import header, markdown_table, out_dir
from .models import BENCHMARKS, FITTED
from .quality import FULL, QUICK, SEED_STRIDE, run_benchmark, summary
from .samplers import CountingModel, Sampler, ours, peer_samplers, sigmas_for

ODE_REFERENCE_STEPS = 1000
NOISE = {"ode": "ode", "reverse_sde": "reverse_sde", "paper": "paper_default"}


def bh2_gain(h: float) -> float:
    return math.expm1(h) / h if h > 1e-8 else 1.0


def pc_variant(order: int, noise_scale: str, top_gain: Callable[[float], float] | None = None,
               corrector_drop: int = 0) -> Callable:
    """The predictor-corrector scheme with a research option (bench-only: not a public argument)."""
    def run(model, x, sigmas, seed, space="edm"):
        s = validate_sigmas(sigmas)
        alphas = None if space == "edm" else 1 - sigmas
        steps = _plan_steps(s, validate_alphas(alphas, s), resolve_noise_scale(noise_scale, 1.0), order,
                            PREDICTOR_CORRECTOR, 1.0, top_gain, corrector_drop)
        return run_plan(model, x, sigmas, steps, {"seed": seed}, disable=True)
    return run


def pc_clipped(order: int, noise_scale: str) -> Callable:
    """Experimental: the corrector's change per item clipped to the size of the predictor's
    highest-order term (the series must shrink; in the smooth limit the ratio is O(h), no clip)."""
    from k_diffusion_ext.corrector import taylor_rows

    def run(model, x, sigmas, seed, space="edm"):
        s = validate_sigmas(sigmas)
        alphas = None if space == "edm" else 1 - sigmas
        a = validate_alphas(alphas, s)
        phi = resolve_noise_scale(noise_scale, 1.0)
        steps = _plan_steps(s, a, phi, order, PREDICTOR_CORRECTOR, 1.0)
        lam = (s / a).tolist()
        # the top-term weights: the predictor's top Taylor term, from the corrector plan's kernel
        tops = []
        for i, st in enumerate(steps):
            p = sum(1 for w in st.d_weights if w)  # the step's order (its nonzero history weights + 1)
            if not st.corrector or p < 2:
                tops.append(())
                continue
            # W_{p-1} recovered from the corrected scheme's weights: d_weights minus the order-0 part
            lams = lam[i::-1][:p]
            rows = taylor_rows(lams)
            # solve d_weights = alpha_t (1 - r) e_0 + sum_k W_k rows[k] for W_1..W_{p-1}
            m = torch.tensor([rows[k] for k in range(1, p)], dtype=torch.float64).T  # p x (p-1)
            rhs = torch.tensor(st.d_weights[:p], dtype=torch.float64)
            rhs[0] = 0.0
            coef = torch.linalg.lstsq(m[1:], rhs[1:, None]).solution.flatten()
            tops.append(tuple((coef[-1] * torch.tensor(rows[p - 1], dtype=torch.float64)).tolist()))
        from k_diffusion_ext import per_item_noise_sampler
        from k_diffusion_ext.er_sde import er_sde_update
        noise = per_item_noise_sampler(x, seed)
        held: list[torch.Tensor] = []
        ones = x.new_ones(x.shape[0])
        for i, st in enumerate(steps):
            denoised = model(x, sigmas[i] * ones)
            if i and steps[i - 1].corrector and not st.returns_prediction:
                corr = sum(w * p for w, p in zip(steps[i - 1].corrector, [denoised] + held))
                if tops[i - 1]:
                    top = sum(w * p for w, p in zip(tops[i - 1], held))
                    scale = (top.flatten(1).norm(dim=1) / corr.flatten(1).norm(dim=1).clamp_min(1e-30)).clamp(max=1.0)
                    corr = corr * scale.view(-1, *([1] * (x.ndim - 1)))
                x = x + corr
            z = noise(sigmas[i], sigmas[i + 1]) if st.noise_std else None
            x = er_sde_update(x, st, denoised, *(held + [None, None])[:2], z)
            held = [denoised] + held[:order - 1 + 1]
        return x
    return run


def schemes_by_order(group: str) -> list[Sampler]:
    """The corrected and the predictor-corrector scheme at orders 1-3 (ER-SDE-k, ER-SDE-k PC)."""
    ns = NOISE[group]
    out = [Sampler(f"ER-SDE-{k}", ours(k, ns), group, True) for k in (1, 2, 3)]
    return out + [Sampler(f"ER-SDE-{k} PC", ours(k, ns, scheme=PREDICTOR_CORRECTOR), group, True) for k in (1, 2, 3)]


def candidates(group: str) -> list[Sampler]:
    ns = NOISE[group]
    out = schemes_by_order(group)
    out += [Sampler(f"ER-SDE-{k} PC, gain (e^h - 1)/h", pc_variant(k, ns, bh2_gain), group, True) for k in (2, 3)]
    out += [Sampler("ER-SDE-3 PC, corrector of order 3", pc_variant(3, ns, corrector_drop=1), group, True),
            Sampler("ER-SDE-3 PC, correction clipped", pc_clipped(3, ns), group, True)]
    return out


def ode_part(name: str, n: int, nfes: tuple[int, ...], peers: list[Sampler], log) -> dict:
    problem = BENCHMARKS[name](n)
    samplers = candidates("ode") + [p for p in peers if p.group == "ode" and problem.space in p.spaces]
    return ode_rows(problem, samplers, n, nfes, log)


def ode_rows(problem, samplers: list[Sampler], n: int, nfes: tuple[int, ...], log) -> dict:
    """Each sampler's per-sample error on n starts against the same starts solved at ODE_REFERENCE_STEPS."""
    start = torch.randn(n, problem.dim, generator=torch.Generator().manual_seed(20261129), dtype=problem.dtype)
    fine = sigmas_for(problem.space, ODE_REFERENCE_STEPS, problem.dtype)
    reference = ours(3, "ode")(problem.model, start * fine[0], fine, 0, problem.space).double()
    rows: dict[str, dict] = {}
    for s in samplers:
        rows[s.name] = {}
        for nfe in nfes:
            steps = s.steps_for(nfe, problem.space)
            sigmas = sigmas_for(problem.space, steps, problem.dtype)
            counted = CountingModel(problem.model)
            out = s.run(counted, start * sigmas[0], sigmas, 0, problem.space).double()
            per_sample = (out - reference).pow(2).mean(dim=1).sqrt()
            rows[s.name][nfe] = {"rms": float(per_sample.pow(2).mean().sqrt()), "median": float(per_sample.median()),
                                 "calls": counted.calls}
    log(f"{problem.name}: ODE done")
    return {"title": problem.title, "n": n, "rows": rows}


def sde_part(name: str, group: str, n: int, seeds: int, ref_nfe: int, nfes: tuple[int, ...], peers: list[Sampler],
             log) -> dict:
    problem = BENCHMARKS[name](n)
    return sde_rows(problem, group, candidates(group) + [p for p in peers if p.group == group], n, seeds, ref_nfe,
                    nfes, log)


def sde_rows(problem, group: str, samplers: list[Sampler], n: int, seeds: int, ref_nfe: int, nfes: tuple[int, ...],
             log) -> dict:
    """bench.quality's distance to the group's converged SDE, mean and spread over the seeds."""
    res = run_benchmark(problem, samplers, n, [k * SEED_STRIDE for k in range(seeds)], log, ref_nfe, nfes)
    rows = {s.name: {nfe: summary(res, s.name, nfe, "dist") for nfe in nfes} for s in samplers
            if s.name in res["cells"]}
    ref = res["references"][group]
    return {"title": problem.title, "n": n, "rows": rows, "floor": ref["floor"], "reference": ref["sampler"]}


def at(cells: dict, nfe: int):
    return cells[nfe] if nfe in cells else cells[str(nfe)]


SUMMARY_OURS = ("ER-SDE-1", "ER-SDE-2", "ER-SDE-3", "ER-SDE-1 PC", "ER-SDE-2 PC", "ER-SDE-3 PC")


def _score(cell) -> float | None:
    if not cell:
        return None
    return cell["rms"] if isinstance(cell, dict) else cell[0]


def summary_table(results: dict, nfes: tuple[int, ...]) -> str:
    """One row per group, model and NFE: the corrected scheme and the PC scheme at orders 1-3, and
    the best peer of the group (ODE: RMS error; SDEs: distance, mean over seeds)."""
    rows = []
    for group in ("ode", "reverse_sde", "paper"):
        for name, res in results.get(group, {}).items():
            peers = [r for r in res["rows"] if not r.startswith("ER-SDE")]
            for nfe in nfes:
                line = [group, name, str(nfe)]
                for label in SUMMARY_OURS:
                    v = _score(at(res["rows"][label], nfe)) if label in res["rows"] else None
                    line.append("-" if v is None else f"{v:.3g}")
                scored = sorted((v, p) for p in peers if (v := _score(at(res["rows"][p], nfe))) is not None)
                line.append(f"{scored[0][0]:.3g} {scored[0][1]}" if scored else "-")
                line.append("-" if "floor" not in res else f"{res['floor']:.3g}")
                rows.append(line)
    return markdown_table(["group", "model", "NFE"] + list(SUMMARY_OURS) + ["best peer", "floor"], rows)


def report(results: dict, nfes: tuple[int, ...]) -> str:
    out = ["## Summary (ODE: RMS per-sample error against 1000 steps; SDEs: distance to the converged SDE)\n",
           summary_table(results, nfes), "\n## Every variant and peer\n"]
    for name, res in results.get("ode", {}).items():
        rows = res["rows"]
        out.append(f"### ODE, {name}: RMS / median per-sample error against 1000 steps ({res['n']} samples)\n")
        best = {nfe: min(rows, key=lambda r: at(rows[r], nfe)["rms"]) for nfe in nfes}
        table = []
        for label, cells in rows.items():
            line = [label]
            for nfe in nfes:
                c = at(cells, nfe)
                text = f"{c['rms']:.3g} / {c['median']:.3g}" + ("" if c["calls"] == nfe else f" ({c['calls']} calls)")
                line.append(f"**{text}**" if best[nfe] == label else text)
            table.append(line)
        out.append(markdown_table(["sampler"] + [f"NFE {k}" for k in nfes], table))
    for group in ("reverse_sde", "paper"):
        for name, res in results.get(group, {}).items():
            rows = res["rows"]
            out.append(f"### {group}, {name}: distance to the converged SDE (reference {res['reference']}, "
                       f"floor {res['floor']:.3g}; mean ± std over seeds)\n")
            live = {nfe: {r: at(c, nfe) for r, c in rows.items() if at(c, nfe)} for nfe in nfes}
            best = {nfe: min(live[nfe], key=lambda r: live[nfe][r][0]) for nfe in nfes}
            table = []
            for label in rows:
                line = [label]
                for nfe in nfes:
                    mean, spread = live[nfe][label]
                    text = f"{mean:.3g} ± {spread:.2g}"
                    line.append(f"**{text}**" if best[nfe] == label else text)
                table.append(line)
            out.append(markdown_table(["sampler"] + [f"NFE {k}" for k in nfes], table))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.pc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--benchmarks", default=",".join(FITTED))  # held-out models only by name
    parser.add_argument("--parts", default="ode,reverse_sde,paper")
    parser.add_argument("--nfes", default="10,20")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--n", type=int, default=None, help="samples per seed (SDE parts)")
    parser.add_argument("--ode-n", type=int, default=500)
    parser.add_argument("--ref-nfe", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--tag", default="pc")
    parser.add_argument("--merge", default=None, help="comma-separated tags of finished runs in --out: write their "
                        "union as --tag, run nothing")
    args = parser.parse_args(argv)
    if args.merge:
        folder = out_dir("pc", args.out, args.quick)
        merged: dict = {"notes": [], "command": []}
        for tag in args.merge.split(","):
            part = json.loads((folder / f"{tag}.json").read_text())
            merged["command"].append(part["command"])
            merged["notes"] += [n for n in part["notes"] if n not in merged["notes"]]
            for key in ("ode", "reverse_sde", "paper"):  # runs at other NFEs add cells to the same rows
                for model, res in part.get(key, {}).items():
                    into = merged.setdefault(key, {}).setdefault(model, {**res, "rows": {}})
                    for label, cells in res["rows"].items():
                        into["rows"].setdefault(label, {}).update(cells)
        for key in ("ode", "reverse_sde", "paper"):  # models in the registry's order
            merged[key] = dict(sorted(merged[key].items(), key=lambda item: list(BENCHMARKS).index(item[0])))
        nfes = tuple(int(k) for k in args.nfes.split(","))
        text = header("Predictor-corrector study", ["bench.pc"] + argv)
        text += "".join(f"- from: `{c}`\n" for c in merged["command"])
        text += "".join(f"- note: {n}\n" for n in merged["notes"]) + f"\n{report(merged, nfes)}\n"
        (folder / f"{args.tag}.md").write_text(text)
        (folder / f"{args.tag}.json").write_text(json.dumps(merged, indent=1, default=str))
        return
    torch.set_num_threads(1)
    cfg = QUICK if args.quick else FULL
    nfes = tuple(int(k) for k in args.nfes.split(","))
    peers, notes = peer_samplers()
    folder = out_dir("pc", args.out, args.quick)
    started = time.time()

    def log(msg: str) -> None:
        print(f"[{time.time() - started:6.0f}s] {msg}", file=sys.stderr, flush=True)

    results: dict = {"notes": notes, "command": " ".join(["python -m bench.pc"] + argv)}
    parts = args.parts.split(",")
    for name in args.benchmarks.split(","):
        if "ode" in parts:
            results.setdefault("ode", {})[name] = ode_part(name, args.ode_n, nfes, peers, log)
        for group in ("reverse_sde", "paper"):
            if group in parts:
                n = args.n or (cfg["mixture_n"] if name == "mixture" else cfg["n"])
                results.setdefault(group, {})[name] = sde_part(name, group, n, args.seeds or cfg["seeds"],
                                                               args.ref_nfe or cfg["ref_nfe"], nfes, peers, log)
                log(f"{name}: {group} done")
        text = header("Predictor-corrector study", ["bench.pc"] + argv)
        text += "".join(f"- note: {n}\n" for n in notes) + f"\n{report(results, nfes)}\n"
        (folder / f"{args.tag}.md").write_text(text)
        (folder / f"{args.tag}.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"total {time.time() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

