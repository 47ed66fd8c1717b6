"""The corrector's form (issue 21, item 4): predictor_corrector (order p + 1 through p + 1 points)
against a same-order corrector through the newest p points (bench.pc's "corrector of order 3",
the oldest point dropped), on the ODE of the exact guided mixture (the second benchmark set).

    python -m bench.corrector_form [--scales gmix:1,gmix:4.5,flow_gmix:1] [--nfes 10,20,30]

pc.md's ODE protocol: per-sample RMS error against the same start at 1000 steps, 500 samples.
pc.md has both forms on the first set (its seven benchmarks). Writes corrector_form.md.
"""
from __future__ import annotations

import argparse
import sys

from .common import header, markdown_table, out_dir
from .pc import pc_variant, schemes_by_order, ode_rows
from .pc_auto import problem_for
from .samplers import Sampler

SAME_ORDER = "ER-SDE-3 PC, corrector of order 3"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.corrector_form", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="gmix:1,gmix:4.5,flow_gmix:1")
    parser.add_argument("--nfes", default="10,20,30")
    parser.add_argument("--ode-n", type=int, default=500)
    parser.add_argument("--out", default=None)
    parser.add_argument("--tag", default="corrector_form")
    args = parser.parse_args(argv)
    nfes = tuple(int(k) for k in args.nfes.split(","))
    keep = ("ER-SDE-3", "ER-SDE-2 PC", "ER-SDE-3 PC")
    samplers = [s for s in schemes_by_order("ode") if s.name in keep]
    samplers.append(Sampler(SAME_ORDER, pc_variant(3, "ode", corrector_drop=1), "ode", True))
    table = []
    for spec in args.scales.split(","):
        res = ode_rows(problem_for(spec, args.ode_n), samplers, args.ode_n, nfes, lambda m: print(m, file=sys.stderr))
        for label, cells in res["rows"].items():
            table.append([spec, label] + [f"{cells[k]['rms']:.3g}" for k in nfes])
    text = header("The corrector's form on the exact guided mixture (issue 21)", ["bench.corrector_form"] + argv)
    text += f"\nODE, RMS error against 1000 steps ({args.ode_n} samples).\n\n"
    text += markdown_table(["model", "sampler"] + [f"NFE {k}" for k in nfes], table) + "\n"
    (out_dir(args.out, False) / f"{args.tag}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
