"""Order of the ODE solvers on an analytic flow problem at practical step counts (issue 21, item 4).

    python -m bench.flow_slope [--steps 8,16,32,64,128] [--n 256]

The exact class-conditional Gaussian mixture (bench.models.guided_mixture_problem, unguided: cfg 1)
on the rectified-flow path, sigmas linear from 0.99 to 0.06 (no final jump to 0, so the error is
the ODE's alone), each start solved again at 4096 steps by the shipped solver as the reference.
Score: the median sample's error (the RMS over samples is dominated by the few that end in
another mode, which hides the order). Rows: the shipped expansion (x0 in lambda, order 3,
scheme corrected), the same with the predictor-corrector scheme, and bench.expansions' research
expansions in log lambda (x0 and the noise prediction eps). Reports the error and the slope
between step counts (log2 error ratio per doubling): if the expansion variable is what keeps the
order-3 slope low, the log-lambda rows reach 3 sooner.
"""
from __future__ import annotations

import argparse
import math
import sys

import torch

from k_diffusion_ext import sample_er_sde

from .common import header, markdown_table, out_dir
from .expansions import expansion
from .models import guided_mixture_problem


def shipped(scheme: str):
    def run(model, x, sigmas, seed, space="flow"):
        return sample_er_sde(model, x, sigmas, extra_args={"seed": seed}, disable=True, order=3, scheme=scheme,
                             noise_scale="ode", alphas=1 - sigmas)
    return run


ROWS = {"x0 in lambda, order 3 (shipped, corrected)": shipped("corrected"),
        "x0 in lambda, order 3, predictor_corrector": shipped("predictor_corrector"),
        "x0 in log lambda, order 3": expansion("ode", "log lambda"),
        "eps in log lambda, order 3": expansion("ode", "log lambda", "eps")}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.flow_slope", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="8,16,32,64,128")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--out", default=None)
    parser.add_argument("--tag", default="flow_slope")
    args = parser.parse_args(argv)
    steps = [int(k) for k in args.steps.split(",")]
    problem = guided_mixture_problem("flow", 1.0, args.n)
    start = torch.randn(args.n, problem.dim, generator=torch.Generator().manual_seed(20261203), dtype=torch.float64)

    def sigmas(k: int) -> torch.Tensor:
        return torch.linspace(0.99, 0.06, k + 1, dtype=torch.float64)

    fine = sigmas(4096)
    reference = shipped("corrected")(problem.model, start * fine[0], fine, 0)
    table = []
    for label, run in ROWS.items():
        errors = []
        for k in steps:
            s = sigmas(k)
            out = run(problem.model, start * s[0], s, 0, "flow")
            per_sample = (out - reference).pow(2).mean(dim=1).sqrt()
            # the median sample: a few samples that end in another mode dominate the RMS of a mixture
            errors.append(float(per_sample.median()))
        slopes = [math.log2(a / b) / math.log2(m / n) for a, b, n, m in zip(errors, errors[1:], steps, steps[1:])]
        table.append([label] + [f"{e:.3g}" for e in errors] + [f"{v:.2f}" for v in slopes])
    heads = ["solver"] + [f"{k} steps" for k in steps] + [f"slope {a}-{b}" for a, b in zip(steps, steps[1:])]
    text = header("Order on an analytic flow problem at practical step counts (issue 21)", ["bench.flow_slope"] + argv)
    text += f"\nMedian per-sample RMS error against 4096 steps ({args.n} samples, " \
            "unguided guided-mixture on the flow path, " \
            "sigmas linear 0.99 to 0.06).\n\n" + markdown_table(heads, table) + "\n"
    (out_dir(args.out, False) / f"{args.tag}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
