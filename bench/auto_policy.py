"""ER-SDE-Solver Auto's table: every fixed setting on every benchmark family, and the pick per cell.

    python -m bench.auto_policy run [--grid fit|check] [--families ...] [--worker K/N] [--quick]
    python -m bench.auto_policy derive          # the table (k_diffusion_ext.auto_policy) and the report

Protocol (fixed before any cell was looked at):
- families (each weighted equally): the class-conditional EDM and flow digits models, the exact
  guided mixture on the EDM and the flow path, and at cfg 1 also the unconditional exact mixture
  and digits model (bench.models); held out, scored but never fitted on: the EDM and flow
  photograph models;
- settings: orders 1-3 with the `corrected` and `predictor_corrector` schemes and order 3 with
  `reference` (the paper's scheme, which ComfyUI's er_sde runs; at orders 1 and 2 it equals
  `corrected` float for float), 7 in all, each
  handed the guidance scale as a host hands it over (so the guard acts where it would);
- cells: noise group (ODE, the paper's noise scale, the reverse SDE) x cfg x steps; the fit grid
  cfg 1, 2, 3, 4.5, 6, 8, 10, 12 and 10, 14, 20, 30, 50 steps (one model call a step for every
  setting), the check grid cfg 1.5, 5, 7, 11 and 12, 25, 40 steps, never used to fit;
- score, three independent start sets per cell: ODE, each sample's error against the same start
  solved at 1000 steps (RMS over 400 samples; the median sample's beside it); SDEs, the Frechet
  distance of 500 samples' features to 500 of the same SDE at 400 steps (order 3, reference
  seeds apart from every cell's); a cell's value is the mean over the start sets, its spread
  their standard deviation;
- the pick in each cell (group, cfg, steps), decision rule of the Auto issue: among the settings
  not worse beyond the spread than the dropdown default (order 3 `corrected`) in any family, and
  with the paper's noise not worse than ComfyUI's er_sde (order 3 `reference`) either (where none
  is, the fewest such losses), then within 2x of each family's best beyond the spread (the fewest
  families over), the one whose worst ratio to each family's best setting is smallest (minimax
  regret); a lower order
  whose scores are within the spread of that pick's in every family replaces it (DPM-Solver++
  and diffusers recommend second order for guided sampling). Unknown cfg: the same rule over
  every cell of cfg 1-10 at the step count.
Writes bench/results/auto_policy/{fit,check}.json (raw scores) and report.md.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Callable

import torch

from k_diffusion_ext import sample_er_sde
from k_diffusion_ext.auto_policy import choose

from .common import RESULTS, header, markdown_table
from .metrics import frechet_stats, gaussian_stats
from .models import digits_problem, guided_mixture_problem, labelled_problem, mixture_problem, photo_problem
from .samplers import _alphas, sigmas_for

FOLDER = RESULTS / "auto_policy"
GROUPS = {"ode": "ode", "paper": "paper_default", "reverse_sde": "reverse_sde"}
# label -> (order, scheme)
SETTINGS = {
    "1": (1, "corrected"), "2": (2, "corrected"), "3": (3, "corrected"),
    "3 reference": (3, "reference"),
    "1 PC": (1, "predictor_corrector"), "2 PC": (2, "predictor_corrector"), "3 PC": (3, "predictor_corrector"),
}
DROPDOWN_DEFAULT = "3"        # er_sde_solver_3
COMFY_ER_SDE = "3 reference"  # what ComfyUI's er_sde runs (paper's noise)
GRIDS = {"fit": ((1.0, 2.0, 3.0, 4.5, 6.0, 8.0, 10.0, 12.0), (10, 14, 20, 30, 50)),
         "check": ((1.5, 5.0, 7.0, 11.0), (12, 25, 40))}
QUICK_GRID = ((1.0, 6.0), (10, 20))
FAMILIES: dict[str, Callable] = {
    "EDM digits": lambda g, n: labelled_problem("edm", g, n),
    "flow digits": lambda g, n: labelled_problem("flow", g, n),
    "guided mixture": lambda g, n: guided_mixture_problem("edm", g, n),
    "flow guided mixture": lambda g, n: guided_mixture_problem("flow", g, n),
    "mixture": lambda g, n: mixture_problem(n),   # unguided: cfg 1 only
    "digits": lambda g, n: digits_problem(n),     # unguided: cfg 1 only
    "EDM photo": lambda g, n: photo_problem("edm", g, n),
    "flow photo": lambda g, n: photo_problem("flow", g, n),
}
UNGUIDED = ("mixture", "digits")
HELD_OUT = ("EDM photo", "flow photo")
FITTED = tuple(f for f in FAMILIES if f not in HELD_OUT)
STARTS = 3
ODE_N, SDE_N = 400, 500
ODE_REFERENCE_STEPS, SDE_REFERENCE_STEPS = 1000, 400
FIRST_SEED = 20261208
SEED_STRIDE = 10_000_019
REFERENCE_SEED = 900_000_011


def run_setting(problem, label: str, group: str, steps: int, start: torch.Tensor, seed: int) -> torch.Tensor:
    order, scheme = SETTINGS[label]
    sigmas = sigmas_for(problem.space, steps, problem.dtype)
    return sample_er_sde(problem.model, start * sigmas[0], sigmas, extra_args={"seed": seed}, disable=True,
                         order=order, scheme=scheme, noise_scale=GROUPS[group],
                         alphas=_alphas(sigmas, problem.space),
                         guidance_scale=float(getattr(problem.model, "scale", 1.0)))


def start_set(problem, n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, problem.dim, generator=torch.Generator().manual_seed(seed), dtype=problem.dtype)


def run_unit(family: str, cfg: float, steps_list: tuple[int, ...], starts: int, log) -> dict:
    """{group: {label: {steps: [[score, median or 0] per start set]}}} for one family at one cfg."""
    out: dict = {}
    problem = FAMILIES[family](cfg, ODE_N)
    rows = out.setdefault("ode", {label: {s: [] for s in steps_list} for label in SETTINGS})
    for k in range(starts):
        start = start_set(problem, ODE_N, FIRST_SEED + k * SEED_STRIDE)
        exact = run_setting(problem, "3", "ode", ODE_REFERENCE_STEPS, start, 0).double()
        for label in SETTINGS:
            for steps in steps_list:
                err = (run_setting(problem, label, "ode", steps, start, 0).double() - exact).pow(2).mean(1).sqrt()
                rows[label][steps].append([float(err.pow(2).mean().sqrt()), float(err.median())])
    problem = FAMILIES[family](cfg, SDE_N)
    for group in ("paper", "reverse_sde"):
        reference = run_setting(problem, "3", group, SDE_REFERENCE_STEPS,
                                start_set(problem, SDE_N, REFERENCE_SEED + 1), REFERENCE_SEED)
        ref_stats = gaussian_stats(problem.features(reference))
        rows = out.setdefault(group, {label: {s: [] for s in steps_list} for label in SETTINGS})
        for k in range(starts):
            seed = FIRST_SEED + k * SEED_STRIDE
            start = start_set(problem, SDE_N, seed + 1)
            for label in SETTINGS:
                for steps in steps_list:
                    x = run_setting(problem, label, group, steps, start, seed)
                    bad = ~torch.isfinite(x).all(dim=1)
                    score = math.inf if bad.any() else frechet_stats(gaussian_stats(problem.features(x)), ref_stats)
                    rows[label][steps].append([score, 0.0])
    log(f"{family} cfg {cfg:g}: done")
    return out


def units(grid: str, families: list[str], quick: bool) -> list[tuple[str, float, tuple[int, ...]]]:
    cfgs, steps = QUICK_GRID if quick else GRIDS[grid]
    return [(f, c, steps) for f in families for c in cfgs if f not in UNGUIDED or c == 1.0]


def cmd_run(args) -> None:
    torch.set_num_threads(1)
    FOLDER.mkdir(parents=True, exist_ok=True)
    families = args.families.split(",") if args.families else list(FAMILIES)
    todo = units(args.grid, families, args.quick)
    k, n = (int(v) for v in args.worker.split("/"))
    todo = todo[k::n]
    path = FOLDER / (f"{args.grid}{'_quick' if args.quick else ''}.part{k}of{n}.json")
    done = json.loads(path.read_text()) if path.exists() else {"cells": {}}
    t0 = time.time()
    for family, cfg, steps in todo:
        key = f"{family}|{cfg:g}"
        if key in done["cells"]:
            continue
        done["cells"][key] = run_unit(family, cfg, steps, STARTS, lambda m: print(f"[{time.time() - t0:6.0f}s] {m}",
                                                                                 flush=True))
        done["command"] = ["bench.auto_policy"] + sys.argv[1:]
        path.write_text(json.dumps(done))


def load(grid: str) -> dict:
    """{(family, cfg): unit} from the grid's finished parts (merged)."""
    cells: dict = {}
    for path in sorted(FOLDER.glob(f"{grid}*.json")):
        if "quick" in path.name:
            continue
        for key, unit in json.loads(path.read_text())["cells"].items():
            family, cfg = key.split("|")
            cells[(family, float(cfg))] = {g: {label: {int(s): v for s, v in by.items()} for label, by in rows.items()}
                                           for g, rows in unit.items()}
    return cells


def stats(values: list[list[float]]) -> tuple[float, float]:
    scores = [v[0] for v in values]
    if not all(math.isfinite(s) for s in scores):
        return math.inf, 0.0
    return statistics.fmean(scores), statistics.stdev(scores) if len(scores) > 1 else 0.0


def bars(group: str) -> list[str]:
    """The settings Auto must not lose to in this noise group (decision 3)."""
    return [DROPDOWN_DEFAULT] + ([COMFY_ER_SDE] if group == "paper" else [])


def worse(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """a worse than b beyond the start sets' spread."""
    return a[0] - b[0] > max(a[1], b[1])


def family_rows(cells: dict, group: str, cfg: float, steps: int, families) -> dict:
    """{family: {label: (mean, spread)}} of one cell."""
    out = {}
    for f in families:
        unit = cells.get((f, cfg))
        if unit and steps in unit[group][DROPDOWN_DEFAULT]:
            out[f] = {label: stats(unit[group][label][steps]) for label in SETTINGS}
    return out


def regret(rows: dict, label: str) -> float:
    return max(r[label][0] / min(v[0] for v in r.values()) for r in rows.values())


def pick(rows_list: list[dict], group: str) -> str:
    """The decision rule over one or more cells' family rows (several: the unknown-cfg rule)."""
    def violations(label: str) -> int:
        return sum(worse(r[label], r[b]) for rows in rows_list for r in rows.values() for b in bars(group))

    def over_two(label: str) -> int:
        return sum(not within_two(r[label], r[min(r, key=lambda k: r[k][0])])
                   for rows in rows_list for r in rows.values())

    def worst(label: str) -> float:
        return max(regret(rows, label) for rows in rows_list)
    rank = {label: (violations(label), over_two(label)) for label in SETTINGS}
    allowed = [label for label in SETTINGS if rank[label] == min(rank.values())]
    best = min(allowed, key=worst)
    for label in sorted(allowed, key=lambda s: (SETTINGS[s][0], worst(s))):
        if SETTINGS[label][0] >= SETTINGS[best][0]:
            break
        if not any(worse(r[label], r[best]) for rows in rows_list for r in rows.values()):
            return label
    return best


def derive(cells: dict) -> dict:
    """{group: {cfg: {steps: label}}, "unknown": {group: {steps: label}}} on the fit grid."""
    cfgs, steps_list = GRIDS["fit"]
    table: dict = {}
    for group in GROUPS:
        table[group] = {cfg: {s: pick([family_rows(cells, group, cfg, s, FITTED)], group) for s in steps_list}
                        for cfg in cfgs}
    table["unknown"] = {group: {s: pick([family_rows(cells, group, cfg, s, FITTED) for cfg in cfgs if cfg <= 10], group)
                                for s in steps_list} for group in GROUPS}
    return table


def as_python(table: dict) -> str:
    """TABLE and UNKNOWN_GUIDANCE as k_diffusion_ext.auto_policy writes them."""
    steps = GRIDS["fit"][1]
    lines = [f"STEPS = {steps!r}", "TABLE: dict[str, dict[float, tuple[str, ...]]] = {"]
    for group in GROUPS:
        lines.append(f'    "{group}": {{')
        lines += [f"        {cfg!r}: ({', '.join(repr(row[s]) for s in steps)})," for cfg, row in table[group].items()]
        lines.append("    },")
    lines += ["}", "UNKNOWN_GUIDANCE: dict[str, tuple[str, ...]] = {"]
    lines += [f'    "{group}": ({", ".join(repr(table["unknown"][group][s]) for s in steps)}),' for group in GROUPS]
    return "\n".join(lines + ["}"])


def within_two(auto: tuple[float, float], best: tuple[float, float]) -> bool:
    """Auto's ratio to the best is at most 2 beyond the start sets' spread."""
    return auto[0] - max(auto[1], best[1]) <= 2 * best[0]


def assess(cells: dict, grid: str, families) -> list[dict]:
    """One entry per (group, cfg, steps, family): Auto's pick, its ratio to the family's best, the bars."""
    cfgs, steps_list = GRIDS[grid]
    out = []
    for group in GROUPS:
        for cfg in cfgs:
            for steps in steps_list:
                label = choose(group, cfg, steps)
                for family, rows in family_rows(cells, group, cfg, steps, families).items():
                    best = min(rows, key=lambda k: rows[k][0])
                    unit = cells[(family, cfg)][group]
                    medians = {k: statistics.fmean(v[1] for v in unit[k][steps]) for k in SETTINGS}
                    out.append({"group": group, "cfg": cfg, "steps": steps, "family": family, "auto": label,
                                "best": best, "value": rows[label], "best_value": rows[best],
                                "ratio": rows[label][0] / rows[best][0], "within_two": within_two(rows[label], rows[best]),
                                "loses_to": [b for b in bars(group) if worse(rows[label], rows[b])],
                                "median_ratio": medians[label] / min(medians.values()) if group == "ode" else None})
    return out


def summary(entries: list[dict]) -> list[list[str]]:
    rows = []
    for family in dict.fromkeys(e["family"] for e in entries):
        for group in GROUPS:
            mine = [e for e in entries if e["family"] == family and e["group"] == group]
            if not mine:
                continue
            geo = math.exp(statistics.fmean(math.log(e["ratio"]) for e in mine))
            medians = [e["median_ratio"] for e in mine if e["median_ratio"]]
            rows.append([family, group, str(len(mine)), f"{max(e['ratio'] for e in mine):.2f}", f"{geo:.3f}",
                         f"{math.exp(statistics.fmean(math.log(m) for m in medians)):.3f}" if medians else "-",
                         str(sum(not e["within_two"] for e in mine)), str(sum(bool(e["loses_to"]) for e in mine))])
        mine = [e for e in entries if e["family"] == family]
        rows.append([f"**{family}**", "all", str(len(mine)), f"{max(e['ratio'] for e in mine):.2f}",
                     f"**{math.exp(statistics.fmean(math.log(e['ratio']) for e in mine)):.3f}**", "",
                     str(sum(not e["within_two"] for e in mine)), str(sum(bool(e["loses_to"]) for e in mine))])
    return rows


SUMMARY_HEAD = ["family", "group", "cells", "worst Auto / best", "geo. mean Auto / best",
                "ODE median error: geo. mean Auto / best", "cells over 2x beyond the spread",
                "cells worse than the dropdown default (or er_sde) beyond the spread"]


def conflicts(cells: dict) -> list[list[str]]:
    """Fit cells where no single setting keeps every family both within 2x of its best and no worse
    than the dropdown default (or er_sde) beyond the spread: the families disagree."""
    cfgs, steps_list = GRIDS["fit"]
    out = []
    for group in GROUPS:
        for cfg in cfgs:
            for steps in steps_list:
                rows = family_rows(cells, group, cfg, steps, FITTED)
                if not rows or any(all(within_two(r[label], r[min(r, key=lambda k: r[k][0])])
                                       and not any(worse(r[label], r[b]) for b in bars(group)) for r in rows.values())
                                   for label in SETTINGS):
                    continue
                auto = choose(group, cfg, steps)
                out.append([group, f"{cfg:g}", str(steps), auto, "; ".join(
                    f"{f}: " + ", ".join(f"{label} {r[label][0]:.3g} ± {r[label][1]:.2g}"
                                         for label in dict.fromkeys([min(r, key=lambda k: r[k][0]), auto] + bars(group)))
                    for f, r in rows.items())])
    return out


def picks_table(table: dict) -> str:
    steps = GRIDS["fit"][1]
    out = []
    for group in GROUPS:
        out.append(f"\n### {group}\n")
        out.append(markdown_table(["cfg"] + [f"{s} steps" for s in steps],
                                  [[f"{cfg:g}"] + [row[s] for s in steps] for cfg, row in table[group].items()]
                                  + [["unknown"] + [table["unknown"][group][s] for s in steps]]))
    return "\n".join(out)


def detail(entries: list[dict]) -> str:
    head = ["group", "cfg", "steps", "family", "Auto", "Auto's score", "best", "best's score", "ratio", "bars"]
    rows = [[e["group"], f"{e['cfg']:g}", str(e["steps"]), e["family"], e["auto"],
             f"{e['value'][0]:.3g} ± {e['value'][1]:.2g}", e["best"],
             f"{e['best_value'][0]:.3g} ± {e['best_value'][1]:.2g}", f"{e['ratio']:.2f}",
             ("over 2x; " if not e["within_two"] else "") + ("loses to " + ", ".join(e["loses_to"]) if e["loses_to"]
                                                              else "")] for e in entries]
    return markdown_table(head, rows)


def report(argv: list[str]) -> str:
    fit, check = load("fit"), load("check")
    text = header("ER-SDE-Solver Auto: every fixed setting on every family, and Auto's pick", ["bench.auto_policy"] + argv)
    text += "".join(f"- from: `python -m {' '.join(c)}`\n" for c in sources())
    text += "\n" + __doc__.split("\n\n", 2)[2].split("Writes")[0]
    text += "\n## Auto's table (what it picks; derived from the fit grid)\n" + picks_table(derive(fit))
    entries_fit = assess(fit, "fit", list(FAMILIES))
    entries_check = assess(check, "check", list(FAMILIES)) if check else []
    text += "\n## Fit grid (cfg 1-12, 10-50 steps): Auto against each family's best fixed setting\n\n"
    text += markdown_table(SUMMARY_HEAD, summary(entries_fit))
    if entries_check:
        text += "\n## Check grid (cfg 1.5, 5, 7, 11 and 12, 25, 40 steps; never fitted)\n\n"
        text += markdown_table(SUMMARY_HEAD, summary(entries_check))
    found = conflicts(fit)
    text += ("\n## Cells where the families disagree (no setting keeps every family within 2x of its best and "
             "no worse than the dropdown default, or er_sde, beyond the spread)\n\n")
    text += markdown_table(["group", "cfg", "steps", "Auto", "each family: its best, Auto's pick and the bars"],
                           found) if found else "None.\n"
    text += "\n## Every cell\n\n" + detail(entries_fit + entries_check)
    return text


def sources() -> list[list[str]]:
    runs = [json.loads(p.read_text()) for p in sorted(FOLDER.glob("*.json")) if "quick" not in p.name]
    return [run["command"] for run in runs if "command" in run]


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.auto_policy", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run")
    run.add_argument("--grid", choices=tuple(GRIDS), default="fit")
    run.add_argument("--families", default="")
    run.add_argument("--worker", default="0/1")
    run.add_argument("--quick", action="store_true")
    sub.add_parser("derive")
    args = parser.parse_args(argv)
    if args.cmd == "run":
        cmd_run(args)
    else:
        (FOLDER / "report.md").write_text(report(argv))
        print(as_python(derive(load("fit"))))


if __name__ == "__main__":
    main()
