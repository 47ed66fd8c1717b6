"""What each noise scale converges to, per model: ER-SDE-3 at 400 NFE, FID to data (and accuracy).

    python -m bench.noise_study [--benchmarks digits,edm_cfg3,flow_cfg3] [--n 1000] [--seeds 2]
    python -m bench.noise_study --spread 40     # the reverse SDE on the exact mixture over 40 seed sets

The quality benchmark's references give the ODE, the reverse SDE and the paper's noise scale
(through peers); this adds more noise than the reverse SDE (eta > 1: phi = x^(1 + eta), see
k_diffusion_ext.with_strength) and the same three through our own solver, from the same seeds.
Writes bench/results/noise_study/noise_study.md and .json.

--spread K answers whether the reverse SDE solved by ER-SDE-3 at 400 NFE converges to the exact
mixture, seed set by seed set: the FID to the exact moments of K independent sets of exact
samples, of K sets of ours (the per-item counter noise) and of K sets of ours with torch.randn
noise, 2000 samples each, mean, spread and upper quantiles; and the sets of the quality
benchmark's reference seeds. Writes bench/results/noise_study/noise_spread.md and .json.
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
from .metrics import mean_spread
from .models import BENCHMARKS
from .quality import REFERENCE_NFE, REFERENCE_SEEDS, SEED_STRIDE, fmt, measure, sample
from .samplers import Sampler, ours

SCALES = (("ode", 1.0), ("paper_default", 1.0), ("reverse_sde", 1.0), ("reverse_sde", 1.5), ("reverse_sde", 2.0))


def with_eta(noise_scale: str, eta: float):
    base = ours(3, noise_scale)
    if eta == 1.0:
        return base
    from k_diffusion_ext import sample_er_sde

    def run(model, x, sigmas, seed, space="edm"):
        return sample_er_sde(model, x, sigmas, extra_args={"seed": seed}, disable=True, order=3,
                             noise_scale=noise_scale, eta=eta, alphas=None if space == "edm" else 1 - sigmas)
    return run


SPREAD_N = 2000
SPREAD_BASE_SEED = 7_000_000
SPREAD_STRIDE = 100_003


def randn_noise(noise_scale: str):
    """ER-SDE-3 with torch.randn noise from a generator seeded by the run's seed."""
    from k_diffusion_ext import sample_er_sde

    def run(model, x, sigmas, seed, space="edm"):
        g = torch.Generator().manual_seed(seed)
        return sample_er_sde(model, x, sigmas, disable=True, order=3, noise_scale=noise_scale,
                             noise_sampler=lambda *_: torch.randn(x.shape, generator=g, dtype=x.dtype),
                             alphas=None if space == "edm" else 1 - sigmas)
    return run


def spread(sets: int, nfe: int, out: Path) -> None:
    from .metrics import frechet_stats, gaussian_stats
    problem = BENCHMARKS["mixture"](SPREAD_N)
    seeds = [SPREAD_BASE_SEED + k * SPREAD_STRIDE for k in range(sets)]
    runs = {"ER-SDE-3 (reverse_sde), per-item counter noise": ours(3, "reverse_sde"),
            "ER-SDE-3 (reverse_sde), torch.randn noise": randn_noise("reverse_sde")}
    fid = {"exact samples": [frechet_stats(gaussian_stats(problem.data_floor(SPREAD_N, seed)), problem.data_stats)
                             for seed in seeds]}
    for label, run in runs.items():
        s = Sampler(label, run, "study", True)
        fid[label] = [measure(problem, sample(problem, s, nfe, SPREAD_N, seed)[0])["fid"] for seed in seeds]
    rows = [[label, f"{np.mean(v):.4f} ± {np.std(v, ddof=1):.4f}", f"{np.quantile(v, 0.5):.4f}",
             f"{np.quantile(v, 0.9):.4f}", f"{np.max(v):.4f}"] for label, v in fid.items()]
    counter = Sampler("counter", runs["ER-SDE-3 (reverse_sde), per-item counter noise"], "study", True)
    at_reference = {seed: measure(problem, sample(problem, counter, nfe, SPREAD_N, seed)[0])["fid"]
                    for seed in REFERENCE_SEEDS}
    text = (header(f"Reverse SDE on the exact mixture: ER-SDE-3 at {nfe} NFE, FID to the exact moments over "
                   f"{sets} seed sets", ["bench.noise_study"] + sys.argv[1:])
            + f"\n{SPREAD_N} samples a set; seeds {SPREAD_BASE_SEED} + k * {SPREAD_STRIDE}; mean ± sample std.\n\n"
            + markdown_table(["samples", "FID mean ± std", "median", "90 %", "max"], rows)
            + "\nThe quality benchmark's reference seeds (sets A and B), ours with the counter noise: "
            + ", ".join(f"{seed}: {value:.4f}" for seed, value in at_reference.items()) + "\n")
    (out / "noise_spread.md").write_text(text)
    (out / "noise_spread.json").write_text(json.dumps({"fid": fid, "reference_seeds": at_reference}, indent=1))
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spread", type=int, default=0, metavar="K",
                        help="only the seed-spread check on the exact mixture, over K seed sets")
    parser.add_argument("--benchmarks", default="mixture,digits,edm_cfg3,flow_cfg3")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--nfe", type=int, default=REFERENCE_NFE)
    parser.add_argument("--out", default=None, help="output folder (default bench/results/noise_study)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.spread:
        spread(args.spread, args.nfe, out_dir("noise_study", args.out))
        return
    started = time.perf_counter()
    rows, data = [], {}
    for b in [x.strip() for x in args.benchmarks.split(",") if x.strip()]:
        problem = BENCHMARKS[b](args.n)
        row = [b]
        data[b] = {}
        for name, eta in SCALES:
            s = Sampler(f"ER-SDE-3 {name} eta {eta:g}", with_eta(name, eta), "study", True)
            scores = [measure(problem, sample(problem, s, args.nfe, args.n, REFERENCE_SEEDS[0] + k * SEED_STRIDE)[0])
                      for k in range(args.seeds)]
            fid = mean_spread([x["fid"] for x in scores])
            acc = [x["acc"] for x in scores if "acc" in x]
            data[b][f"{name} eta {eta:g}"] = {"fid": fid, "acc": float(np.mean(acc)) if acc else None}
            row.append(fmt(*fid) + (f" (acc {np.mean(acc):.3f})" if acc else ""))
            print(f"[{time.perf_counter() - started:6.0f} s] {b} {name} eta {eta:g}: FID {fid[0]:.3g}", flush=True)
        rows.append(row)
    head = ["model"] + [f"{n}{'' if e == 1.0 else f', eta {e:g}'}" for n, e in SCALES]
    text = (header("Noise-scale study: ER-SDE-3 at %d NFE, FID to data" % args.nfe, ["bench.noise_study"])
            + f"\n{args.n} samples x {args.seeds} seeds; mean ± std. eta > 1 on reverse_sde: phi = x^(1 + eta) "
            "(more noise than the reverse SDE).\n\n" + markdown_table(head, rows))
    out = out_dir("noise_study", args.out)
    (out / "noise_study.md").write_text(text)
    (out / "noise_study.json").write_text(json.dumps(data, indent=1))
    print(text)


if __name__ == "__main__":
    main()
