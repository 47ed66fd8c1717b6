"""Few steps without guidance (cfg 1): which dropdown name for a few-step (distilled) model.

    python -m bench.few_step [--quick] [--benchmarks mixture,digits,edm_cfg1,flow_cfg1] [--nfes 4,6,8,10]
                             [--seeds K] [--n N] [--ref-nfe N] [--out DIR] [--tag few_step]

The question (a distilled model such as Z-Image Turbo is run at 8-9 steps, cfg 1): at 4-10
model calls and no guidance, which of our dropdown names, and which of the stock samplers a
user would pick instead, lands closest to its SDE's converged result and to the data. The
quality benchmark's protocol (bench/quality.py's docstring; its run_benchmark does the work)
at other NFEs: the same models at guidance 1, schedules, seeds, starting noise, references (each
group's peer at 400 NFE, two independent sets) and scores (dist: Frechet distance to the same
SDE's converged result; FID: to the data).

Samplers, by the name a user picks:
- ours: er_sde_solver_1/2/3 (orders 1-3, the paper's noise scale, scheme "corrected") and
  er_sde_solver_auto (scheme "auto" with the guidance scale the host hands over, here 1: it
  runs the order and scheme k_diffusion_ext.auto_policy's table names for the cell);
- ComfyUI's: er_sde (the paper's scale), euler, dpmpp_2m, res_multistep, exp_heun_2_x0 (the
  ODE), euler_ancestral, dpmpp_2m_sde, exp_heun_2_x0_sde (the reverse SDE); those the ComfyUI at
  COMFYUI_DIR lacks are left out with a note. Without COMFYUI_DIR: ours only (the paper group
  against its own 400-NFE result).
No model here is distilled: every one is trained for E[x0 | x_t] (the probability-flow ODE and
its SDEs), which a distilled student is not; see docs/benchmarks.md#few-steps-without-guidance-distilled-models.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from .common import header, markdown_table, out_dir
from .models import BENCHMARKS
from .quality import FULL, QUICK, SEED_STRIDE, fmt, run_benchmark, summary
from .samplers import (GROUP_TITLES, REFERENCE_CHECK, REFERENCE_SAMPLER, Sampler, comfy_module,
                       comfy_peer, our_samplers, ours, peer_samplers)

NFES = (4, 6, 8, 10)
MODELS = "mixture,digits,edm_cfg1,flow_cfg1"  # the benchmark's models at guidance 1
OURS = (("er_sde_solver_1", ours(1)), ("er_sde_solver_2", ours(2)), ("er_sde_solver_3", ours(3)),
        ("er_sde_solver_auto", ours(3, scheme="auto")))
PEERS = ("er_sde", "euler", "euler_ancestral", "dpmpp_2m", "dpmpp_2m_sde", "res_multistep", "exp_heun_2_x0",
         "exp_heun_2_x0_sde")


def samplers() -> tuple[list[Sampler], list[Sampler], list[str]]:
    """(the samplers scored, the pool the references come from, notes)."""
    scored = [Sampler(name, run, "paper", True, "per-item Gaussian") for name, run in OURS]
    peers, notes = peer_samplers()
    comfy, _ = comfy_module()
    if comfy is not None:
        by_name = {p.name: p for p in peers}
        if hasattr(comfy.sampling, "sample_euler"):  # not in COMFY_PEERS: the quality tables do not run it
            by_name["euler"] = comfy_peer(comfy, "euler", "ode")
        scored += [by_name[name] for name in PEERS if name in by_name]
        missing = [name for name in PEERS if name not in by_name and not any(name in note for note in notes)]
        if missing:
            notes = notes + [f"not scored (this ComfyUI lacks them): {', '.join(missing)}"]
    else:
        notes = notes + ["ours only: the peers need COMFYUI_DIR"]
    pool = list(scored)
    names = {s.name for s in scored}
    for s in our_samplers():  # a group without its peer reference falls back to ours (as the quality benchmark)
        if s.name in REFERENCE_CHECK.values() and REFERENCE_SAMPLER[s.group] not in names \
                and any(x.group == s.group for x in scored):
            pool.append(s)
    return scored, pool, notes


def report(res: dict, nfes: tuple[int, ...]) -> str:
    lines = [f"## {res['title']}\n",
             f"{res['n']} samples per seed, seeds {res['seeds']}; mean ± std over seeds. FID to data: against "
             f"{res['data_label']}; floor (independent data of the same size): "
             + (fmt(*res["data_floor"]) if res["data_floor"] else "n/a") + ".\n"]
    for g, ref in res["references"].items():
        check = f"; {ref['check']} lies {ref['check_distance']:.3g} from it" if "check" in ref else ""
        lines.append(f"- {GROUP_TITLES[g]}: reference {ref['sampler']} at {res['ref_nfe']} NFE, converged FID to data "
                     f"{np.mean(ref['fid']):.3g}; dist floor **{ref['floor']:.3g}**{check}.")
    lines.append("")
    head = ["sampler", "group"] + [f"dist {n}" for n in nfes] + [f"FID {n}" for n in nfes] + ["calls"]
    rows = []
    for name, s in res["samplers"].items():
        row = [("**" + name + "**") if s["ours"] else name, s["group"]]
        for key in ("dist", "fid"):
            for nfe in nfes:
                v = summary(res, name, nfe, key)
                row.append("-" if v is None else fmt(*v))
        row.append("/".join(str(res["calls"][name][n]) for n in nfes))
        rows.append(row)
    lines.append(markdown_table(head, rows))
    best = []
    for nfe in nfes:
        scored = sorted((v, n) for n in res["samplers"] if (v := summary(res, n, nfe, "fid")) is not None)
        (m, sd), name = scored[0]
        tied = [n for (mm, ss), n in scored[1:] if mm - ss <= m + sd]
        best.append(f"NFE {nfe}: {name} {m:.3g}" + (f" (spreads overlap: {', '.join(tied)})" if tied else ""))
    lines.append("Lowest FID to data: " + "; ".join(best) + ".\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 samples, 2 seeds, references at 200 NFE")
    parser.add_argument("--benchmarks", default=MODELS, help=f"comma-separated, from {', '.join(BENCHMARKS)}")
    parser.add_argument("--nfes", default=",".join(map(str, NFES)))
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--n", type=int, default=None, help="samples per seed (digits models)")
    parser.add_argument("--ref-nfe", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="output folder (default bench/results/few_step, --quick: its quick/)")
    parser.add_argument("--tag", default="few_step")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    size = QUICK if args.quick else FULL
    nfes = tuple(int(k) for k in args.nfes.split(","))
    chosen = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {list(BENCHMARKS)}")
    seeds = [k * SEED_STRIDE for k in range(args.seeds or size["seeds"])]
    ref_nfe = args.ref_nfe or size["ref_nfe"]
    out = out_dir("few_step", args.out, args.quick)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s]{msg}", file=sys.stderr, flush=True)

    scored, pool, notes = samplers()
    text = [header("Few steps at cfg 1" + (" (--quick)" if args.quick else ""),
                   ["bench.few_step"] + (sys.argv[1:] if argv is None else argv))]
    text += [f"- note: {n}\n" for n in notes]
    text.append("- protocol: bench/quality.py's at NFE " + ", ".join(map(str, nfes)) + f" (references at {ref_nfe} NFE); "
                "dist = Frechet distance to the same SDE's converged result, FID = to the data; ours in bold. "
                "No model here is distilled.\n")
    results = {}
    only = {s.name for s in scored}
    for b in chosen:
        n = args.n or (size["mixture_n"] if b == "mixture" else size["n"])
        log(f" {b} (n = {n})")
        results[b] = run_benchmark(BENCHMARKS[b](n), pool, n, seeds, log, ref_nfe, nfes, only=only)
        text.append(report(results[b], nfes))
        (out / f"{args.tag}.md").write_text("\n".join(text))
        (out / f"{args.tag}.json").write_text(json.dumps({"notes": notes, "nfes": nfes, "results": results},
                                                         indent=1, default=str))
    text.append(f"\nTotal time {time.perf_counter() - started:.0f} s.\n")
    (out / f"{args.tag}.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
