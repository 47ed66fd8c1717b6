"""Scheme "auto" (issue 15, direction 3): the order and corrector policy that reads the host's
guidance scale, checked on guidance scales the policy was not fitted to.

    python -m bench.pc_auto [--quick] [--scales edm:2,edm:4,...] [--parts ode,reverse_sde,paper] [--tag T]
    python -m bench.pc_auto --merge T1,T2 --tag pc_auto     # one report from finished runs

The policy (k_diffusion_ext.coefficients.auto_uses_corrector and AUTO_*) was read off
bench/results/pc.md (the seven benchmarks, guidance 1, 3 and 6). This script measures it
elsewhere: the class-conditional digits models at guidance scales pc.md does not have
(EDM 2, 4, 8; flow 2, 4.5, 6), with pc.md's protocol unchanged (ODE: per-sample RMS error
against 1000 steps, 500 samples; SDEs: bench.quality's distance to the converged SDE at the
full size, mean ± std over 3 seeds, floor = a second reference set) and NFE 10 and 20.

"ER-SDE-3 auto" gets the guidance scale the way a host hands it over: the CFG wrapper's scale
(ComfyUI's cfg), 1 for the unguided models. Its rows on the seven benchmarks of pc.md need no
new run: there auto's plan equals, float for float, the plan of one variant pc.md measured (the
report checks that equality and names the variant), so its scores are that variant's.
Writes pc_auto.md and pc_auto.json (or --tag).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from k_diffusion_ext.coefficients import AUTO, PREDICTOR_CORRECTOR, plan_steps, validate_alphas, validate_sigmas
from k_diffusion_ext.noise_scales import resolve_noise_scale

from .common import header, markdown_table, out_dir
from .models import guided_mixture_problem, labelled_problem
from .pc import NOISE, ode_rows, schemes_by_order, sde_rows
from .quality import FULL, QUICK
from .samplers import Sampler, _alphas, ours, peer_samplers, sigmas_for

REFERENCE_PEER = {"reverse_sde": "dpmpp_2m_sde", "paper": "er_sde"}
HELD_OUT = "edm:2,edm:4,edm:8,flow:2,flow:4.5,flow:6"
OURS = ("ER-SDE-1", "ER-SDE-2", "ER-SDE-3", "ER-SDE-1 PC", "ER-SDE-2 PC", "ER-SDE-3 PC")
AUTO_LABEL = "ER-SDE-3 auto"


def ours_and_auto(group: str) -> list[Sampler]:
    """bench.samplers.ours hands the model's guidance scale over as a host does."""
    return schemes_by_order(group) + [Sampler(AUTO_LABEL, ours(3, NOISE[group], scheme=AUTO), group, True)]


def problem_for(spec: str, n: int):
    """kind:scale: edm / flow (the class-conditional digits models), gmix / flow_gmix (the exact
    guided mixture, bench.models.guided_mixture_problem)."""
    kind, scale = spec.split(":")
    if kind in ("gmix", "flow_gmix"):
        return guided_mixture_problem("edm" if kind == "gmix" else "flow", float(scale), n)
    return labelled_problem(kind, float(scale), n)


def picked_variant(space: str, guidance: float, group: str, nfe: int) -> str:
    """The pc.md variant whose plan auto's plan equals (checked float for float)."""
    sigmas = validate_sigmas(sigmas_for(space, nfe, torch.float64))
    return variant_on(sigmas, _alphas(sigmas, space), guidance, group)


def variant_on(sigmas: torch.Tensor, alphas: torch.Tensor | None, guidance: float, group: str) -> str:
    """The fixed setting (OURS) whose plan auto's plan equals on this schedule, float for float."""
    sigmas = validate_sigmas(sigmas)
    alphas = validate_alphas(alphas, sigmas)
    phi = resolve_noise_scale(NOISE[group], 1.0)
    plan = plan_steps(sigmas, alphas, phi, 3, AUTO, 1.0, guidance)
    for label in OURS:
        order, scheme = int(label[7]), PREDICTOR_CORRECTOR if label.endswith("PC") else "corrected"
        if plan_steps(sigmas, alphas, phi, order, scheme, 1.0, guidance) == plan:  # as ours() hands it over
            return label
    raise AssertionError(f"auto's plan (guidance {guidance}, {group}) matches no measured variant")


def _cell(cells: dict, nfe: int):
    c = cells.get(nfe, cells.get(str(nfe)))
    if not c:
        return None
    return (c["rms"], 0.0) if isinstance(c, dict) else tuple(c)


def verdict_rows(results: dict, nfes: tuple[int, ...], source: str) -> list[list[str]]:
    """Per group, model and NFE: auto, ER-3 (today's default), the best of ours, the best peer."""
    lines = []
    for group in ("ode", "reverse_sde", "paper"):
        for name, res in results.get(group, {}).items():
            rows = res["rows"]
            for nfe in nfes:
                a = _cell(rows[AUTO_LABEL], nfe)
                e3 = _cell(rows["ER-SDE-3"], nfe)
                if a is None or e3 is None:  # a merged run without this NFE
                    continue
                mine = sorted((_cell(rows[k], nfe), k) for k in OURS if k in rows and _cell(rows[k], nfe))
                peers = sorted((_cell(c, nfe), k) for k, c in rows.items() if not k.startswith("ER-SDE") and _cell(c, nfe))
                best, best_name = mine[0]
                tol = (max(a[1], e3[1]) if group != "ode" else 0.1 * e3[0])
                vs_e3 = "better" if a[0] < e3[0] - tol else "worse" if a[0] > e3[0] + tol else "same"
                lines.append([group, name, str(nfe), f"{a[0]:.3g}" + (f" ± {a[1]:.2g}" if group != "ode" else ""),
                              rows[AUTO_LABEL].get("picks", {}).get(str(nfe), "-") if isinstance(rows[AUTO_LABEL], dict) else "-",
                              f"{e3[0]:.3g}" + (f" ± {e3[1]:.2g}" if group != "ode" else ""), vs_e3, f"{best[0]:.3g} {best_name}",
                              f"{peers[0][0][0]:.3g} {peers[0][1]}" if peers else "-",
                              "-" if "floor" not in res else f"{res['floor']:.3g}", source])
    return lines


def derived_from_pc(pc: dict, nfes: tuple[int, ...]) -> dict:
    """auto's rows on pc.md's seven benchmarks: the cells of the variant its plan equals."""
    out: dict = {}
    for group in ("ode", "reverse_sde", "paper"):
        for name, res in pc.get(group, {}).items():
            space = "flow" if name.startswith("flow") else "edm"  # pc.md's models: mixture, digits are EDM
            guidance = float(name.split("_cfg")[1]) if "_cfg" in name else 1.0  # unguided: 1, as a host says
            rows = dict(res["rows"])
            picks = {}
            cells = {}
            for nfe in nfes:
                label = picked_variant(space, guidance, group, nfe)
                picks[str(nfe)] = label
                cells[nfe] = rows[label].get(nfe, rows[label].get(str(nfe)))
            rows[AUTO_LABEL] = {**cells, "picks": picks}
            out.setdefault(group, {})[name] = {**res, "rows": rows}
    return out


def report(held_out: dict, derived: dict, nfes: tuple[int, ...]) -> str:
    heads = ["group", "model", "NFE", "auto", "auto = (pc.md)", "ER-3", "auto vs ER-3", "best of ours", "best peer",
             "floor", "source"]
    out = ["## Held-out guidance scales (run here)\n",
           "auto vs ER-3: worse/better beyond the larger seed spread (SDEs) or 10 % (ODE). Best peer: the group's "
           "reference solver only (the full peer set is in pc.md).\n",
           markdown_table(heads[:4] + heads[5:10], [r[:4] + r[5:10] for r in verdict_rows(held_out, nfes, "run")]),
           "\n## The seven benchmarks of pc.md (auto's plan equals the named variant's, float for float)\n",
           markdown_table(heads[:10], [r[:10] for r in verdict_rows(derived, nfes, "pc.md")]),
           "\n## Every cell of the held-out runs\n"]
    for group in ("ode", "reverse_sde", "paper"):
        for name, res in held_out.get(group, {}).items():
            out.append(f"### {group}, {name}" + (f" (floor {res['floor']:.3g})" if "floor" in res else "") + "\n")
            table = [[label] + ["-" if c is None else f"{c[0]:.3g}" + (f" ± {c[1]:.2g}" if group != "ode" else "")
                                for c in (_cell(cells, nfe) for nfe in nfes)] for label, cells in res["rows"].items()]
            out.append(markdown_table(["sampler"] + [f"NFE {k}" for k in nfes], table))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.pc_auto", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scales", default=HELD_OUT, help="kind:scale of the class-conditional digits models")
    parser.add_argument("--parts", default="ode,reverse_sde,paper")
    parser.add_argument("--nfes", default="10,20")
    parser.add_argument("--n", type=int, default=None, help="samples per seed (SDE parts)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--ref-nfe", type=int, default=None)
    parser.add_argument("--ode-n", type=int, default=500)
    parser.add_argument("--pc", default="pc", help="tag of the pc.md run in --out whose rows auto reuses")
    parser.add_argument("--out", default=None)
    parser.add_argument("--tag", default="pc_auto")
    parser.add_argument("--merge", default=None, help="comma-separated tags of finished runs: one report, no run")
    args = parser.parse_args(argv)
    nfes = tuple(int(k) for k in args.nfes.split(","))
    folder = out_dir(args.out, args.quick)
    torch.set_num_threads(1)  # the runs' setting, also what a merge's header reports
    if args.merge:
        merged: dict = {"command": [], "notes": []}
        for tag in args.merge.split(","):
            part = json.loads((folder / f"{tag}.json").read_text())
            merged["command"].append(part["command"])
            merged["notes"] += [n for n in part["notes"] if n not in merged["notes"]]
            for key in ("ode", "reverse_sde", "paper"):
                merged.setdefault(key, {}).update(part.get(key, {}))
        results = merged
    else:
        cfg = dict(QUICK if args.quick else FULL)
        cfg.update({k: v for k, v in (("n", args.n), ("seeds", args.seeds), ("ref_nfe", args.ref_nfe)) if v})
        peers, notes = peer_samplers()
        started = time.time()

        def log(msg: str) -> None:
            print(f"[{time.time() - started:6.0f}s] {msg}", file=sys.stderr, flush=True)

        results = {"notes": notes, "command": " ".join(["python -m bench.pc_auto"] + argv)}
        parts = args.parts.split(",")
        for spec in args.scales.split(","):
            name = problem_for(spec, 1).name
            if "ode" in parts:
                results.setdefault("ode", {})[name] = ode_rows(problem_for(spec, args.ode_n), ours_and_auto("ode"),
                                                               args.ode_n, nfes, log)
            for group in ("reverse_sde", "paper"):
                if group in parts:
                    samplers = ours_and_auto(group) + [p for p in peers if p.name == REFERENCE_PEER[group]]
                    results.setdefault(group, {})[name] = sde_rows(problem_for(spec, cfg["n"]), group, samplers,
                                                                   cfg["n"], cfg["seeds"], cfg["ref_nfe"], nfes, log)
                    log(f"{name}: {group} done")
            (folder / f"{args.tag}.json").write_text(json.dumps(results, indent=1, default=str))
    pc_file = folder / f"{args.pc}.json"
    derived = derived_from_pc(json.loads(pc_file.read_text()), nfes) if pc_file.exists() else {}
    text = header("Scheme auto: the guidance-aware policy on held-out guidance scales (issue 15)",
                  ["bench.pc_auto"] + argv)
    commands = results["command"] if isinstance(results["command"], list) else [results["command"]]
    text += "".join(f"- from: `{c}`\n" for c in commands)
    text += "".join(f"- note: {n}\n" for n in results["notes"]) + f"\n{report(results, derived, nfes)}\n"
    (folder / f"{args.tag}.md").write_text(text)
    (folder / f"{args.tag}.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
