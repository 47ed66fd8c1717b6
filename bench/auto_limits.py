"""What a plan-only policy cannot see (issue 21): the model decides the corrector under strong
guidance, and a per-step adaptive order does not settle it either.

    python -m bench.auto_limits [--part schedules,adaptive,sd] [--tag auto_limits]

pc.md's ODE protocol unchanged (per-sample RMS error against the same 500 starts solved at 1000
steps of the same schedule, start seed 20261129), our six fixed settings (orders 1-3,
`corrected` or `predictor_corrector`), guidance applied as a host applies it.

Part "schedules": the EDM-trained and the flow-trained class-conditional digits models at cfg
4.5 and 8, each on its own schedule and on the other's (and on SD's Karras schedule, sigma
0.0292-14.6), 16 / 25 / 40 steps. If the schedule decided whether the corrector pays under
strong guidance, swapping schedules would swap the winners.

Part "adaptive": a research variant, not in the library: the order chosen per step and per
sample from the sizes of the update's terms (no extra model call). With T1 the order-1 change of
the step, T2 and T3 what orders 2 and 3 add, a sample steps at order 2 where |T2| <= c |T1| and
at order 3 where also |T3| <= c |T2| (c = 0.5: the series must shrink), with or without the
corrector of the order it used. Run on the digits models (EDM and flow, cfg 6 / 10 and 8) and the
exact guided mixture (EDM and flow path, cfg 8), 16 / 25 / 40 steps.
Part "sd": the EDM digits model on SD's Karras schedule (the one SD1.5 and SDXL sample on), cfg
1.5-10 at 10-40 steps: auto's pick against the best fixed setting on a schedule it was not fitted on.
Writes auto_limits.md and auto_limits.json (or --tag).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch

from k_diffusion_ext.analytic import karras_sigmas
from k_diffusion_ext.coefficients import PREDICTOR_CORRECTOR, _plan_steps, validate_alphas, validate_sigmas
from k_diffusion_ext.er_sde import er_sde_update
from k_diffusion_ext.noise_scales import resolve_noise_scale

from .common import from_lines, header, markdown_table, merge_runs, out_dir
from .pc import schemes_by_order
from .pc_auto import OURS, picked_variant, problem_for, variant_on
from .samplers import flow_sigmas, ours, sigmas_for

START_SEED = 20261129
REFERENCE_STEPS = 1000
STEPS = (16, 25, 40)
ADAPTIVE_THRESHOLD = 0.5


def _lambdas_flow_shape(steps: int) -> torch.Tensor:
    """SD3's shifted flow schedule as lambda = sigma / (1 - sigma), capped at the EDM model's 80."""
    s = flow_sigmas(steps, torch.float64)[:-1]
    return torch.cat([(s / (1 - s)).clamp(max=80.0), s.new_zeros(1)])


# schedule name -> steps -> lambdas (sigma / alpha), ending at 0
SCHEDULES = {
    "EDM (Karras 0.002-80)": lambda n: karras_sigmas(n, 0.002, 80.0, 7.0).double(),
    "SD (Karras 0.0292-14.6)": lambda n: karras_sigmas(n, 0.0292, 14.6, 7.0).double(),
    "flow (shift 3)": _lambdas_flow_shape,
    # checks of the log-span step count on schedules nothing was fitted on
    "exponential (0.0292-14.6)": lambda n: torch.cat([torch.linspace(math.log(14.6), math.log(0.0292), n,
                                                                     dtype=torch.float64).exp(),
                                                      torch.zeros(1, dtype=torch.float64)]),
    "Karras (0.01-40)": lambda n: karras_sigmas(n, 0.01, 40.0, 7.0).double(),
}
SD_SCHEDULE = "SD (Karras 0.0292-14.6)"


def _sigmas(space: str, lambdas: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The model's sigmas for a lambda schedule: VE sigma = lambda; flow sigma = lambda / (1 + lambda)."""
    return (lambdas if space == "edm" else lambdas / (1 + lambdas)).to(dtype)


def fixed_samplers() -> dict:
    return {s.name: s.run for s in schemes_by_order("ode")}


def adaptive_sampler(corrector: bool, c: float = ADAPTIVE_THRESHOLD):
    """The per-sample adaptive order (module docstring), driving the library's er_sde_update."""
    def run(model, x, sigmas, seed, space="edm"):
        s = validate_sigmas(sigmas)
        a = validate_alphas(None if space == "edm" else 1 - sigmas, s)
        phi = resolve_noise_scale("ode", 1.0)
        plans = {k: _plan_steps(s, a, phi, k, PREDICTOR_CORRECTOR, 1.0) for k in (1, 2, 3)}
        n = x.shape[0]
        ones = x.new_ones(n)
        held: list[torch.Tensor] = []
        used = torch.ones(n, dtype=torch.long)

        def norm(t):
            return t.flatten(1).norm(dim=1)

        for i in range(len(plans[1])):
            denoised = model(x, sigmas[i] * ones)
            if plans[1][i].returns_prediction:
                return denoised
            if corrector and i:
                predictions = [denoised] + held
                for k in (1, 2, 3):
                    weights = plans[k][i - 1].corrector
                    if weights:
                        change = sum(w * p for w, p in zip(weights, predictions) if w)
                        x = torch.where((used == k).view(-1, *[1] * (x.ndim - 1)), x + change, x)
            u1, u2, u3 = (er_sde_update(x, plans[k][i], denoised, *(held + [None, None])[:2]) for k in (1, 2, 3))
            t1, t2, t3 = norm(u1 - x), norm(u2 - u1), norm(u3 - u2)
            ok2 = t2 <= c * t1
            ok3 = ok2 & (t3 <= c * t2)
            used = 1 + ok2.long() + ok3.long()
            shape = (-1,) + (1,) * (x.ndim - 1)
            x = torch.where(ok3.view(shape), u3, torch.where(ok2.view(shape), u2, u1))
            held = [denoised] + held[:2]
        return x
    return run


def _errors(problem, samplers: dict, steps_list, schedule=None) -> dict:
    """{label: {steps: rms}} on the model's own schedule (schedule None) or a lambda schedule."""
    start = torch.randn(500, problem.dim, generator=torch.Generator().manual_seed(START_SEED), dtype=problem.dtype)

    def sig(n):
        return sigmas_for(problem.space, n, problem.dtype) if schedule is None else \
            _sigmas(problem.space, schedule(n), problem.dtype)

    fine = sig(REFERENCE_STEPS)
    reference = ours(3, "ode")(problem.model, start * fine[0], fine, 0, problem.space).double()
    out: dict = {}
    for label, run in samplers.items():
        out[label] = {}
        for n in steps_list:
            s = sig(n)
            err = run(problem.model, start * s[0], s, 0, problem.space).double() - reference
            out[label][n] = float(err.pow(2).mean(dim=1).mean().sqrt())
    return out


def part_schedules(log) -> dict:
    res = {}
    for spec in ("edm:4.5", "edm:8", "flow:4.5", "flow:8"):
        problem = problem_for(spec, 500)
        for name, schedule in SCHEDULES.items():
            res[f"{spec} | {name}"] = _errors(problem, fixed_samplers(), STEPS, schedule)
            log(f"schedules: {spec}, {name} done")
    return res


def part_adaptive(log) -> dict:
    res = {}
    samplers = fixed_samplers()
    samplers["adaptive order"] = adaptive_sampler(False)
    samplers["adaptive order + corrector"] = adaptive_sampler(True)
    for spec in ("edm:6", "edm:10", "flow:8", "gmix:8", "flow_gmix:8"):
        res[spec] = _errors(problem_for(spec, 500), samplers, STEPS)
        log(f"adaptive: {spec} done")
    return res


SD_GRID_SCALES = ("edm:1.5", "edm:3", "edm:4.5", "edm:6", "edm:7", "edm:8", "edm:10")
SD_GRID_STEPS = (10, 16, 20, 25, 30, 40)


def part_sd(log, schedule: str = SD_SCHEDULE) -> dict:
    """The EDM digits model on another schedule (by default SD's Karras schedule, sigma
    0.0292-14.6, as SD1.5 / SDXL sample): a schedule the policy's thresholds were not fitted on."""
    res = {}
    for spec in SD_GRID_SCALES:
        res[spec] = _errors(problem_for(spec, 500), fixed_samplers(), SD_GRID_STEPS, SCHEDULES[schedule])
        log(f"sd: {spec} done")
    return {"schedule": schedule, "cells": res}


def _sd_rows(results: dict) -> list[list[str]]:
    rows = []
    schedule = SCHEDULES[results["schedule"]]
    for spec, table in results["cells"].items():
        for n in sorted(next(iter(table.values()))):
            fixed = {label: table[label][n] for label in OURS}
            best = min(fixed, key=fixed.get)
            auto = variant_on(schedule(n), None, float(spec.split(":")[1]), "ode")
            ratio = fixed[auto] / fixed[best]
            rows.append([spec, str(n), f"{best} {fixed[best]:.3g}"]
                        + [f"{fixed[label] / fixed[best]:.2f}" for label in OURS]
                        + [f"{auto} ({ratio:.2f})", "**miss**" if ratio > 1.1 else "ok"])
    return rows


def _rows(results: dict, with_auto: bool) -> list[list[str]]:
    rows = []
    for key, table in results.items():
        spec = key.split(" | ")[0]
        for n in STEPS:
            fixed = {label: table[label][n] for label in OURS}
            best = min(fixed, key=fixed.get)
            line = [key.replace(" | ", ", "), str(n), f"{best} {fixed[best]:.3g}"]
            line += [f"{table[label][n] / fixed[best]:.2f}" for label in table]
            if with_auto:
                space = "edm" if spec.split(":")[0] in ("edm", "gmix") else "flow"
                auto = picked_variant(space, float(spec.split(":")[1]), "ode", n)
                line.append(f"{auto} ({table[auto][n] / fixed[best]:.2f})")
            rows.append(line)
    return rows


def report(results: dict) -> str:
    out = []
    if "schedules" in results:
        labels = list(next(iter(results["schedules"].values())))
        out += ["## The model or the schedule? (ODE error / best fixed setting)\n",
                markdown_table(["model, schedule", "steps", "best fixed"] + labels,
                               _rows(results["schedules"], False))]
    if "adaptive" in results:
        labels = list(next(iter(results["adaptive"].values())))
        out += ["\n## Per-sample adaptive order (ODE error / best fixed setting; auto: 0.3.0's pick)\n",
                markdown_table(["model", "steps", "best fixed"] + labels + ["auto"],
                               _rows(results["adaptive"], True))]
    for part in sorted(k for k in results if k.startswith("sd")):
        rows = _sd_rows(results[part])
        out += [f"\n## The EDM digits model on the {results[part]['schedule']} schedule: auto against the best fixed "
                f"setting ({sum(r[-1] != 'ok' for r in rows)} of {len(rows)} cells miss 10 %)\n",
                markdown_table(["model", "steps", "best fixed"] + list(OURS) + ["auto", "bar"], rows)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.auto_limits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", default="schedules,adaptive,sd")
    parser.add_argument("--out", default=None)
    parser.add_argument("--tag", default="auto_limits")
    parser.add_argument("--merge", default="", help="tags of finished runs to report together")
    parser.add_argument("--schedule", default=SD_SCHEDULE, choices=list(SCHEDULES), help="part sd's schedule")
    args = parser.parse_args(argv)
    folder = out_dir(args.out, False)
    t0 = time.time()
    results: dict = {}
    sources: list = []
    if args.merge:
        results, sources = merge_runs(folder, args.merge)
    else:
        log = lambda m: print(m, flush=True)  # noqa: E731
        for part in args.part.split(","):
            if part == "sd":
                results["sd " + args.schedule] = part_sd(log, args.schedule)
            else:
                results[part] = {"schedules": part_schedules, "adaptive": part_adaptive}[part](log)
    for part, tables in results.items():  # JSON keys are strings
        tables = tables["cells"] if part.startswith("sd") else tables
        for key, table in tables.items():
            tables[key] = {label: {int(n): v for n, v in cells.items()} for label, cells in table.items()}
    (folder / f"{args.tag}.json").write_text(json.dumps({"command": argv, "from": sources, "results": results}))
    text = header("What a plan-only auto policy cannot see (issue 21)", ["bench.auto_limits"] + argv)
    text += from_lines("bench.auto_limits", sources)
    text += f"- wall time: {time.time() - t0:.0f} s\n\n"
    (folder / f"{args.tag}.md").write_text(text + report(results) + "\n")


if __name__ == "__main__":
    main()
