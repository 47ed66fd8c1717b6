"""Quality benchmark: every sampler at equal NFE, grouped by the SDE it solves, two scores a cell.

    python -m bench.quality [--quick] [--benchmarks mixture,digits,...] [--seeds K] [--n N] [--out DIR]

Models (bench/models, one registry entry each): the exact 16-D Gaussian mixture, the
unconditional EDM digits model, a class-conditional EDM digits model with classifier-free
guidance at scales 1, 3 and 6, and a class-conditional rectified-flow digits model (alpha =
1 - sigma, SD3's shifted schedule) at scales 1 and 3. Samplers (bench/samplers.PEERS and the
project's solver at every group's noise scale), groups: ODE, reverse SDE, the paper's noise
scale, SA-Solver's interval SDE.
Held out, by name only (never in the default list; nothing is fitted on them): photo_cfg1,
photo_cfg3, flow_photo_cfg1, flow_photo_cfg3, the class-conditional photograph models of
bench.models.photo, scored by their source classifier's features and accuracy.

Protocol (fixed before any result of it was looked at):
- schedule: EDM (rho 7, sigma 0.002..80, then 0) for the EDM models, SD3's shifted flow
  schedule (shift 3, first sigma 0.9995, then 0) for the flow model;
- equal NFE counted by model calls (one guided evaluation = one call): NFE 10, 20, 50; a
  sampler gets the most steps whose calls do not exceed the NFE (listed in the tables);
- every sampler of a seed starts from the same noise; seeds are far apart; the samplers run
  interleaved in one process (seed, NFE, then all samplers in a rotating order);
- score 1, distance to the converged distribution of the same SDE: the Frechet distance
  between the cell's features and those of the group's reference sampler at 400 NFE from
  independent seeds (set A). Its floor is the distance of a second independent reference
  set (B) to A; a second solver of the same SDE at 400 NFE (set B's seeds) checks that the
  reference has converged;
- score 2, FID to data: the Frechet distance of the features to the data's (the exact moments
  for the mixture). Its floor is the distance of the same number of independent data points
  (exact mixture samples; a bootstrap resample of the 1797 real digits);
- features: raw coordinates (mixture); the digit classifier's 64 penultimate features
  (digits); class-conditional models are also scored by the classifier's accuracy on the
  requested class (every class equally often);
- mean +- sample standard deviation over seeds; the floors likewise.
Writes quality.md, quality.json and one plot per model plus quality.png (distances).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .common import header, markdown_table, out_dir
from .metrics import frechet_stats, gaussian_stats, mean_spread
from .models import BENCHMARKS, FITTED, Problem
from .samplers import (GROUP_TITLES, GROUPS, REFERENCE_CHECK, REFERENCE_SAMPLER, CountingModel, Sampler,
                       all_samplers, sigmas_for, steps_for)

NFES = (10, 20, 50)
REFERENCE_NFE = 400
# The starting noise comes from seed + START_OFFSET, the samplers' noise from seed: a generator
# seeded like the starting noise would make the first injected noise equal to it.
START_OFFSET = 1_000_003
# Seeds far apart: per-item noise streams are keyed by seed + sample index.
SEED_STRIDE = 10_000_019
REFERENCE_SEEDS = (900_000_011, 910_000_031)  # sets A and B, apart from every cell's seed
FULL = {"n": 1000, "seeds": 3, "mixture_n": 2000, "ref_nfe": REFERENCE_NFE}
QUICK = {"n": 300, "seeds": 2, "mixture_n": 1000, "ref_nfe": 200}


def rotate(items: list, k: int) -> list:
    k %= len(items)
    return items[k:] + items[:k]


def fmt(mean: float, spread: float) -> str:
    return f"{mean:.3g} ± {spread:.2g}"


def start_noise(problem: Problem, n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, problem.dim, generator=torch.Generator().manual_seed(seed + START_OFFSET), dtype=problem.dtype)


def sample(problem: Problem, sampler: Sampler, nfe: int, n: int, seed: int) -> tuple[torch.Tensor, int]:
    steps = steps_for(sampler, nfe, problem.space)
    sigmas = sigmas_for(problem.space, steps, problem.dtype)
    counted = CountingModel(problem.model)
    out = sampler.run(counted, start_noise(problem, n, seed) * sigmas[0], sigmas, seed, problem.space)
    return out, counted.calls


def measure(problem: Problem, out: torch.Tensor) -> dict:
    stats = gaussian_stats(problem.features(out))
    score = {"stats": stats, "fid": frechet_stats(stats, problem.data_stats)}
    if problem.accuracy is not None:
        score["acc"] = problem.accuracy(out)
    return score


def by_name(samplers: list[Sampler], name: str) -> Sampler | None:
    return next((s for s in samplers if s.name == name), None)


def run_benchmark(problem: Problem, samplers: list[Sampler], n: int, seeds: list[int], log,
                  ref_nfe: int = REFERENCE_NFE, nfes: tuple[int, ...] = NFES, only: set[str] | None = None) -> dict:
    """only: the names of the samplers to score (default all); the references of their groups
    still come from the whole list, so their cells compare with a full run's."""
    samplers = [s for s in samplers if problem.space in s.spaces]
    pool, samplers = samplers, [s for s in samplers if only is None or s.name in only]
    groups = [g for g in GROUPS if any(s.group == g for s in samplers)]
    refs: dict = {}
    for g in groups:
        # the reference is a peer where one exists (a sampler other than ours), else ours
        ref = by_name(pool, REFERENCE_SAMPLER[g]) or by_name(pool, REFERENCE_CHECK[g])
        check = by_name(pool, REFERENCE_CHECK[g])
        if ref is None:
            continue
        a = measure(problem, sample(problem, ref, ref_nfe, n, REFERENCE_SEEDS[0])[0])
        b = measure(problem, sample(problem, ref, ref_nfe, n, REFERENCE_SEEDS[1])[0])
        entry = {"sampler": ref.name, "stats": a["stats"], "floor": frechet_stats(b["stats"], a["stats"]),
                 "fid": [a["fid"], b["fid"]], "acc": [a.get("acc"), b.get("acc")]}
        if check is not None and check is not ref:
            c = measure(problem, sample(problem, check, ref_nfe, n, REFERENCE_SEEDS[1])[0])
            entry.update(check=check.name, check_distance=frechet_stats(c["stats"], a["stats"]), check_fid=c["fid"],
                         check_acc=c.get("acc"))
        refs[g] = entry
        log(f"  {problem.name}: reference {g} ({ref.name}) floor {entry['floor']:.3g}"
            + (f", {entry['check']} {entry['check_distance']:.3g}" if "check" in entry else ""))
    cells = {s.name: {nfe: [] for nfe in nfes} for s in samplers}
    calls = {s.name: {} for s in samplers}
    turn = 0
    for seed in seeds:
        for nfe in nfes:
            for s in rotate(samplers, turn):
                turn += 1
                out, used = sample(problem, s, nfe, n, seed)
                calls[s.name][nfe] = used
                score = measure(problem, out)
                cell = {"fid": score["fid"]}
                if s.group in refs:
                    cell["dist"] = frechet_stats(score["stats"], refs[s.group]["stats"])
                if "acc" in score:
                    cell["acc"] = score["acc"]
                cells[s.name][nfe].append(cell)
            log(f"  {problem.name}: seed {seed} NFE {nfe} done")
    data_floor = []
    if problem.data_floor is not None:
        for k in range(len(seeds)):
            data_floor.append(frechet_stats(gaussian_stats(problem.data_floor(n, 77_000 + k)), problem.data_stats))
    for entry in refs.values():
        entry.pop("stats")
    return {"title": problem.title, "space": problem.space, "ref_nfe": ref_nfe, "n": n, "seeds": seeds, "data_label": problem.data_label,
            "groups": groups, "samplers": {s.name: {"group": s.group, "ours": s.ours, "noise": s.noise} for s in samplers},
            "references": refs, "cells": cells, "calls": calls,
            "data_floor": mean_spread(data_floor) if data_floor else None}


def summary(res: dict, name: str, nfe, key: str) -> tuple[float, float] | None:
    values = [c[key] for c in res["cells"][name][nfe] if key in c]
    return mean_spread(values) if values else None


NEAR_FLOOR = 1.5  # a best mean below 1.5x the floor is reported as "at the floor": no winner


def closest(res: dict, names: list[str], nfe: int, floor: float) -> str:
    scored = sorted((v, n) for n in names if (v := summary(res, n, nfe, "dist")) is not None)
    if not scored:
        return ""
    (best_mean, best_std), best = scored[0]
    tied = [n for (m, sd), n in scored[1:] if m - sd <= best_mean + best_std]
    text = best + (f" (tied: {', '.join(tied)})" if tied else "")
    if best_mean < NEAR_FLOOR * floor:
        text += f" [at the floor {floor:.3g}]"
    return text


def summary_table(results: dict) -> str:
    """Per model and group: ours (order 3 at the group's noise scale) against the best peer."""
    ours_in = {"ode": "ER-SDE-3 (ode)", "reverse_sde": "ER-SDE-3 (reverse_sde)", "paper": "ER-SDE-3"}
    rows = []
    for b, res in results.items():
        for g in res["groups"]:
            if g not in ours_in or ours_in[g] not in res["samplers"]:
                continue
            peers = [n for n, s in res["samplers"].items() if s["group"] == g and not s["ours"]]
            floor = res["references"].get(g, {}).get("floor")
            row = [b, g, f"{floor:.3g}" if floor is not None else "-"]
            for nfe in NFES:
                mine = summary(res, ours_in[g], nfe, "dist")
                scored = sorted((v[0], n) for n in peers if (v := summary(res, n, nfe, "dist")) is not None)
                if mine is None or not scored:
                    row.append("-")
                    continue
                row.append(f"{mine[0]:.3g} / {scored[0][0]:.3g} {scored[0][1]}")
            rows.append(row)
    head = ["model", "group", "floor"] + [f"NFE {n}: ours / best peer" for n in NFES]
    return ("## Summary: distance to the converged result, ER-SDE-3 at the group's noise scale against the best "
            "peer of the group (mean over seeds)\n\n" + markdown_table(head, rows))


def converged_table(results: dict) -> str:
    """What every SDE converges to (its 400-NFE reference, two sets): FID to data (and accuracy)."""
    rows = []
    for b, res in results.items():
        row = [b, fmt(*res["data_floor"]) if res["data_floor"] else "-"]
        for g in GROUPS:
            ref = res["references"].get(g)
            if ref is None:
                row.append("-")
                continue
            cell = f"{np.mean(ref['fid']):.3g}"
            if ref["acc"][0] is not None:
                cell += f" (acc {np.mean(ref['acc']):.3f})"
            row.append(cell)
        rows.append(row)
    return ("## Converged: FID to data of each SDE's reference (mean of its two sets), by model\n\n"
            + markdown_table(["model", "data floor"] + list(GROUPS), rows))


def report(res: dict) -> str:
    lines = [f"## {res['title']}\n",
             f"{res['n']} samples per seed, seeds {res['seeds']}; mean ± std over seeds. FID to data: against "
             f"{res['data_label']}; floor (independent data of the same size): "
             + (fmt(*res["data_floor"]) if res["data_floor"] else "n/a") + ".\n"]
    has_acc = any("acc" in c for v in res["cells"].values() for cells in v.values() for c in cells)
    for g in res["groups"]:
        ref = res["references"].get(g)
        names = [n for n, s in res["samplers"].items() if s["group"] == g]
        lines.append(f"### {GROUP_TITLES[g]}\n")
        if ref:
            conv = f"converged FID to data {np.mean(ref['fid']):.3g}"
            if ref["acc"][0] is not None:
                conv += f", accuracy {np.mean(ref['acc']):.3f}"
            check = (f"; {ref['check']} at {res['ref_nfe']} NFE lies {ref['check_distance']:.3g} from it "
                     f"(FID to data {ref['check_fid']:.3g})") if "check" in ref else ""
            lines.append(f"Reference: {ref['sampler']} at {res['ref_nfe']} NFE ({conv}). Floor (a second "
                         f"independent reference set): **{ref['floor']:.3g}**{check}.\n")
        head = ["sampler"] + [f"dist {n}" for n in NFES] + [f"FID {n}" for n in NFES]
        if has_acc:
            head += [f"acc {n}" for n in NFES]
        head.append("calls")
        rows = []
        for name in names:
            row = [("**" + name + "**") if res["samplers"][name]["ours"] else name]
            for key in ("dist", "fid") + (("acc",) if has_acc else ()):
                for nfe in NFES:
                    s = summary(res, name, nfe, key)
                    row.append("-" if s is None else (f"{s[0]:.3f} ± {s[1]:.3f}" if key == "acc" else fmt(*s)))
            row.append("/".join(str(res["calls"][name][n]) for n in NFES))
            rows.append(row)
        lines.append(markdown_table(head, rows))
        verdicts = [closest(res, names, nfe, ref["floor"] if ref else 0.0) for nfe in NFES]
        if any(verdicts):
            lines.append("Closest to the converged result (ties: spreads overlap the best's): "
                         + "; ".join(f"NFE {nfe}: {v}" for nfe, v in zip(NFES, verdicts) if v) + ".\n")
    return "\n".join(lines)


def plot(results: dict, path_dir: Path, title: str) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    paths = []
    names_all = sorted({n for r in results.values() for n in r["samplers"]})
    cmap = plt.get_cmap("tab20")
    color = {n: cmap(i % 20) for i, n in enumerate(names_all)}
    bench_names = list(results)
    fig, axes = plt.subplots(len(bench_names), len(GROUPS), figsize=(4.2 * len(GROUPS), 3.2 * len(bench_names)),
                             squeeze=False)
    for row, b in enumerate(bench_names):
        res = results[b]
        for col, g in enumerate(GROUPS):
            ax = axes[row][col]
            if g not in res["groups"]:
                ax.axis("off")
                continue
            for name, s in res["samplers"].items():
                if s["group"] != g:
                    continue
                m = [summary(res, name, nfe, "dist") for nfe in NFES]
                if any(v is None for v in m):
                    continue
                ax.errorbar(NFES, [v[0] for v in m], yerr=[v[1] for v in m], label=name, color=color[name],
                            linestyle="-" if s["ours"] else "--", linewidth=2.0 if s["ours"] else 1.2,
                            marker="o", markersize=3, capsize=2)
            ref = res["references"].get(g)
            if ref:
                ax.axhline(max(ref["floor"], 1e-6), color="k", linewidth=0.8, linestyle=":", label="floor")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(NFES)
            ax.set_xticklabels([str(n) for n in NFES])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_title(f"{b}: {g}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6)
            if col == 0:
                ax.set_ylabel("distance to converged SDE")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / len(bench_names) / 3.2 * 2))  # room for the title
    path = path_dir / "quality.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    paths.append(path)
    return paths


def merge(out: Path, tags: list[str]) -> None:
    """Join the reports of several processes (each ran some models with --tag) into quality.*."""
    results, notes, heads = {}, [], []
    for tag in tags:
        data = json.loads((out / f"{tag}.json").read_text())
        notes += [n for n in data["notes"] if n not in notes]
        for name, res in data["results"].items():
            res["cells"] = {k: {int(n): v for n, v in by.items()} for k, by in res["cells"].items()}
            res["calls"] = {k: {int(n): v for n, v in by.items()} for k, by in res["calls"].items()}
            results[name] = res
        heads.append((out / f"{tag}.md").read_text().split("\n## ", 1)[0])
    order = [b for b in BENCHMARKS if b in results]
    text = [heads[0] if tags == ["quality"] else heads[0].replace("- command:", f"- merged from {', '.join(tags)}; first command:")]
    text.append(summary_table({b: results[b] for b in order}))
    text.append(converged_table({b: results[b] for b in order}))
    text += [report(results[b]) for b in order]
    plot({b: results[b] for b in order}, out, "distance to the converged result of the same SDE vs NFE (mean ± std over seeds)")
    text.append("\nPlot: `quality.png` beside this file.\n")
    (out / "quality.md").write_text("\n".join(text))
    (out / "quality.json").write_text(json.dumps({"notes": notes, "results": {b: results[b] for b in order}},
                                                 indent=1, default=str))
    print("\n".join(text))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 samples, 2 seeds, references at 200 NFE, three models: a few minutes")
    parser.add_argument("--benchmarks", default=None, help=f"comma-separated, from {', '.join(BENCHMARKS)}")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--n", type=int, default=None, help="samples per seed (digits models)")
    parser.add_argument("--ref-nfe", type=int, default=None, help=f"NFE of the converged references (default {REFERENCE_NFE}; --quick 200)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    parser.add_argument("--out", default=None, help="output folder (default bench/results/quality, --quick: its quick/)")
    parser.add_argument("--tag", default="quality", help="output file stem (to run models in parallel processes)")
    parser.add_argument("--samplers", default=None,
                        help="comma-separated sampler names: score only these (their groups' references as in a full "
                             "run), e.g. peers added by a newer ComfyUI")
    parser.add_argument("--merge", default=None,
                        help="comma-separated stems of earlier --tag runs in --out: write their joint quality.md/json/png")
    args = parser.parse_args(argv)
    if args.merge:
        merge(out_dir("quality", args.out, args.quick), [t.strip() for t in args.merge.split(",") if t.strip()])
        return
    torch.set_num_threads(args.threads)
    size = QUICK if args.quick else FULL
    default = "mixture,digits,edm_cfg3" if args.quick else ",".join(FITTED)  # held-out models only by name
    chosen = [b.strip() for b in (args.benchmarks or default).split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {list(BENCHMARKS)}")
    n_seeds = args.seeds or size["seeds"]
    seeds = [k * SEED_STRIDE for k in range(n_seeds)]
    out = out_dir("quality", args.out, args.quick)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s]{msg}", flush=True)

    samplers, notes = all_samplers()
    only = {x.strip() for x in args.samplers.split(",") if x.strip()} if args.samplers else None
    if only and args.tag == "quality":
        parser.error("--samplers needs --tag: a partial run must not replace quality.md")
    if only and only - {s.name for s in samplers}:
        parser.error(f"unknown or unavailable sampler(s) {sorted(only - {s.name for s in samplers})}")
    for note in notes:
        print(f"note: {note}")
    text = [header("Quality benchmark" + (" (--quick)" if args.quick else ""),
                   ["bench.quality"] + (sys.argv[1:] if argv is None else argv)),
            "- notes: " + ("; ".join(notes) if notes else "all peers present (ComfyUI's, through COMFYUI_DIR)") + "\n",
            *([f"- scored: {', '.join(sorted(only))} only; their groups' references (and checks) are a full run's "
               "(same seeds, sizes and NFE), so the cells compare with a full run's quality.md\n"] if only else []),
            "- protocol: see `bench/quality.py`'s docstring; dist = Frechet distance to the same SDE's converged "
            f"result ({args.ref_nfe or size['ref_nfe']} NFE, independent seeds), FID = Frechet distance to the data, acc = the "
            "classifier's accuracy on the requested class; the project's samplers in bold.\n"]
    results = {}
    for b in chosen:
        n = args.n or (size["mixture_n"] if b == "mixture" else size["n"])
        log(f" {b} (n = {n})")
        problem = BENCHMARKS[b](n)
        results[b] = run_benchmark(problem, samplers, n, seeds, log, args.ref_nfe or size["ref_nfe"], only=only)
        text.append(report(results[b]))
        # write as we go: a long run that is stopped keeps what it finished
        (out / f"{args.tag}.md").write_text("\n".join(text))
        (out / f"{args.tag}.json").write_text(json.dumps({"notes": notes, "results": results}, indent=1, default=str))
    text.append(f"\nTotal time {time.perf_counter() - started:.0f} s.\n")
    (out / f"{args.tag}.md").write_text("\n".join(text))
    if args.tag == "quality":  # the summary tables and the plot
        merge(out, ["quality"])
    else:
        print("\n".join(text))


if __name__ == "__main__":
    main()
