"""Scheme "auto" against the best fixed setting (issue 21, item 3): every measured cell, fit and held-out.

    python -m bench.pc_policy [--fit pc,pc_auto,pc_steps_fit] [--held-out pc_steps_held,pc_gmix] [--tag pc_policy]

The runs it reads (their commands are in each file's header): pc_steps_fit (the digits models at
guidance 2-10 and 14, 25, 50 steps), pc_steps_held (scales and step counts held out from the
0.3.0 policy's first fit, then used to refit it), check_digits / check_paper_* / check2_paper (held out from
both: new scales and step counts) and pc_gmix (the exact guided mixture,
bench.models.guided_mixture_problem). bench.pc_seeds runs are read at their first start set
(pc.md's).

Reads finished runs of bench.pc / bench.pc_auto (their JSON in bench/results/, pc.md's protocol:
ODE: per-sample RMS error against 1000 steps, 500 samples; SDEs: distance to the converged SDE,
mean ± std over 3 seeds of 1000 samples) and scores, in every cell (group, model, guidance scale,
NFE), the setting `auto` picks there today against the best of our six fixed settings (orders
1-3, `corrected` or `predictor_corrector`). No sampling: auto's plan equals, float for float,
the plan of the fixed setting it names (bench.pc_auto.picked_variant checks it), so its score is
that setting's.

A cell misses the bar (issue 21) when auto is worse than the best fixed setting by more than
10 % (ODE) or by more than the larger of the two seeds' spreads (SDEs). The unknown-guidance
fallback (guidance_scale None) is scored the same way over every cell of guidance 1-10: its
worst ratio to the best fixed setting.
Writes pc_policy.md (or --tag).
"""
from __future__ import annotations

import argparse
import json
import math
import sys



from .common import header, markdown_table, out_dir
from .pc_auto import OURS, picked_variant

GROUPS = ("ode", "reverse_sde", "paper")


def guidance_of(name: str) -> float:
    """pc.md's models: the unguided ones (mixture, digits) get 1, as a host says."""
    return float(name.split("_cfg")[1]) if "_cfg" in name else 1.0


def family_of(name: str) -> str:
    return "exact guided mixture" if "gmix" in name else "bench models"


def space_of(name: str) -> str:
    return "flow" if name.startswith("flow") else "edm"


def cell(cells: dict, nfe) -> tuple[float, float] | None:
    c = cells.get(nfe, cells.get(str(nfe)))
    if not c:
        return None
    return (c["rms"], 0.0) if isinstance(c, dict) else (c[0], c[1])


def collect(runs: list[dict]) -> list[dict]:
    """One entry per (group, model, NFE) with our six fixed settings' scores (later runs win)."""
    table: dict = {}
    for run in runs:
        for group in GROUPS:
            for name, res in run.get(group, {}).items():
                for label in OURS:
                    for nfe, c in res["rows"].get(label, {}).items():
                        if nfe == "picks" or not c:
                            continue
                        table.setdefault((group, name, int(nfe)), {})[label] = cell(res["rows"][label], nfe)
    return [{"group": g, "model": m, "nfe": n, "scores": s} for (g, m, n), s in sorted(table.items(),
            key=lambda kv: (GROUPS.index(kv[0][0]), space_of(kv[0][1]), guidance_of(kv[0][1]), kv[0][1], kv[0][2]))
            if len(s) == len(OURS)]


def score(entry: dict, label: str) -> tuple[float, bool]:
    """(ratio to the best fixed setting, misses the bar)."""
    scores = entry["scores"]
    best_label = min(scores, key=lambda k: scores[k][0])
    (b, b_spread), (a, a_spread) = scores[best_label], scores[label]
    miss = a > 1.1 * b if entry["group"] == "ode" else a - b > max(a_spread, b_spread)
    return a / b, miss


def rows_for(entries: list[dict], guidance: str = "host") -> tuple[list[list[str]], dict]:
    lines, worst = [], {}
    for e in entries:
        g = guidance_of(e["model"]) if guidance == "host" else None
        label = picked_variant(space_of(e["model"]), g, e["group"], e["nfe"])
        ratio, miss = score(e, label)
        best_label = min(e["scores"], key=lambda k: e["scores"][k][0])
        w = worst.setdefault(e["group"], [0, 0, 1.0, 0.0])
        w[0] += 1
        w[1] += miss
        w[2] = max(w[2], ratio)
        w[3] += math.log(ratio)
        a, s = e["scores"][label]
        b, bs = e["scores"][best_label]
        sde = e["group"] != "ode"
        lines.append([e["group"], e["model"], str(e["nfe"]), label, f"{a:.3g}" + (f" ± {s:.2g}" if sde else ""),
                      f"{b:.3g}" + (f" ± {bs:.2g}" if sde else "") + f" {best_label}", f"{ratio:.2f}",
                      "**miss**" if miss else "ok"])
    return lines, worst


def fallback_table(entries: list[dict]) -> list[list[str]]:
    """Every fixed setting's worst ratio to the best over guidance 1-10, per group (the candidates
    for guidance_scale None), with the cells where it misses the bar."""
    out = []
    for group in GROUPS:
        mine = [e for e in entries if e["group"] == group and 1.0 <= guidance_of(e["model"]) <= 10.0]
        for label in OURS:
            scored = [score(e, label) for e in mine]
            if scored:
                out.append([group, label, str(len(scored)), f"{max(r for r, _ in scored):.2f}",
                            f"{sorted(r for r, _ in scored)[len(scored) // 2]:.2f}", str(sum(m for _, m in scored))])
    return out


HEADS = ["group", "model", "NFE", "auto picks", "auto", "best fixed", "auto / best", "bar"]


def report(fit: list[dict], held: list[dict]) -> str:
    out = []
    summary = []
    for title, entries in (("fit", fit), ("held-out", held)):
        for family in ("bench models", "exact guided mixture"):
            mine = [e for e in entries if family_of(e["model"]) == family]
            if not mine:
                continue
            _, worst = rows_for(mine)
            for group, (n, misses, ratio, logs) in worst.items():
                summary.append([title, family, group, str(n), str(misses), f"{ratio:.2f}", f"{math.exp(logs / n):.3f}"])
    out += ["## Summary: auto with the host's guidance against the best fixed setting\n",
            markdown_table(["set", "models", "group", "cells", "misses", "worst auto / best", "geo. mean auto / best"],
                           summary),
            "\n## Unknown guidance (guidance_scale None): each fixed setting over every cell of guidance 1-10\n",
            markdown_table(["group", "setting", "cells", "worst ratio", "median ratio", "misses"],
                           fallback_table(fit + held))]
    for title, entries in (("Fit cells", fit), ("Held-out cells", held)):
        if entries:
            out += [f"\n## {title}\n", markdown_table(HEADS, rows_for(entries)[0])]
    return "\n".join(out)


def load(folder, tags: str) -> list[dict]:
    return [_as_pc_run(json.loads((folder / f"{t}.json").read_text())) for t in tags.split(",") if t]


def _as_pc_run(run: dict) -> dict:
    """A bench.pc_seeds run (ODE, its first start set: pc.md's) in bench.pc's layout."""
    if "results" not in run:
        return run
    ode = {}
    for spec, res in run["results"].items():
        kind, scale = spec.split(":")
        name = f"{kind}_cfg{float(scale):g}"
        ode[name] = {"rows": {label: {nfe: {"rms": starts[0][0]} for nfe, starts in cells.items()}
                              for label, cells in res["rows"].items()}}
    return {"ode": ode}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.pc_policy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", default="pc,pc_auto,pc_steps_fit,pc_steps_held")
    parser.add_argument("--held-out", default="check_digits,check_paper_edm,check_paper_flow,check2_paper,pc_gmix")
    parser.add_argument("--out", default=None)
    parser.add_argument("--tag", default="pc_policy")
    args = parser.parse_args(argv)
    folder = out_dir(args.out, False)
    fit, held = collect(load(folder, args.fit)), collect(load(folder, args.held_out))
    text = header("Scheme auto against the best fixed setting, fit and held-out cells (issue 21)",
                  ["bench.pc_policy"] + argv)
    (folder / f"{args.tag}.md").write_text(text + "\n" + report(fit, held) + "\n")


if __name__ == "__main__":
    main()
