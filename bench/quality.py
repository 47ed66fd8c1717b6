"""Quality benchmark: samplers at equal NFE on an exact Gaussian mixture and on a learned digits model.

    python -m bench.quality [--quick] [--parts mixture,digits,consistency] [--out DIR]

1. Exact mixture: 16-D mixture of 8 isotropic Gaussians (means ~ N(0, I) from seed 1234,
   std 0.3) whose noised denoiser is exact, so only discretisation error is left. Scores:
   Frechet distance of the samples' mean and covariance to the mixture's exact ones, and a
   sliced Wasserstein distance (256 fixed directions) to 100k exact samples.
2. Learned model: the EDM-preconditioned digits denoiser of bench/weights/digits.pt;
   "digits FID" = Frechet distance between the 64 penultimate features of the digits
   classifier on the samples (clamped to [-1, 1]) and on the 1797 real digits.
3. Step-count consistency: the same seed at 20 and 40 steps, mean L2 distance per sample
   (digits model), per-item Gaussian noise vs Brownian-tree noise.

Protocol (fixed before any result was looked at; one harness bug fixed afterwards, see
START_OFFSET): EDM schedule rho 7, sigma 0.002..80 then
0; NFE 10, 20, 30, 50; the same starting noise for every sampler of a seed; every sampler
run in the same process, interleaved (seed, NFE, then all samplers in a rotating order);
mean +- sample standard deviation over seeds. Writes quality.md, quality.json and PNG plots.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from k_diffusion_ext import brownian_noise_sampler, sample_er_sde, schedule_range
from k_diffusion_ext.analytic import mixture_denoiser, sample_mixture

from .common import header, markdown_table, out_dir
from .metrics import SlicedW, frechet_distance, gaussian_stats, mean_spread
from .samplers import SIGMA_MAX, CountingModel, Sampler, all_samplers, edm_sigmas

NFES = (10, 20, 30, 50)
# The starting noise comes from seed + START_OFFSET, the samplers' noise from seed: a generator
# seeded like the starting noise would make the first injected noise equal to it (ComfyUI's
# er_sde on CPU, and per-item noise for item 0, do exactly that when given the same seed).
START_OFFSET = 1_000_003
# Seeds far apart: per-item noise streams are keyed by seed + sample index, so seeds 0, 1, 2
# would share all but one of their streams and their spread would understate the real one.
SEED_STRIDE = 10_000_019
MIXTURE = {"dim": 16, "components": 8, "std": 0.3, "seed": 1234}


def mixture_problem():
    g = torch.Generator().manual_seed(MIXTURE["seed"])
    means = torch.randn(MIXTURE["components"], MIXTURE["dim"], generator=g, dtype=torch.float64)
    std = MIXTURE["std"]
    mu = means.mean(0)
    centered = means - mu
    cov = std * std * torch.eye(MIXTURE["dim"], dtype=torch.float64) + centered.T @ centered / means.shape[0]
    return means, std, mu.numpy(), cov.numpy()


def rotate(items: list, k: int) -> list:
    k %= len(items)
    return items[k:] + items[:k]


def fmt(mean: float, spread: float) -> str:
    return f"{mean:.3g} ± {spread:.2g}"


def run_grid(samplers: list[Sampler], model, score, seeds: list[int], nfes, make_noise, dtype, log) -> dict:
    """scores[name][nfe] = list over seeds of score dicts; also the model calls each run made."""
    results: dict = {s.name: {n: [] for n in nfes} for s in samplers}
    calls: dict = {s.name: {} for s in samplers}
    seconds: dict = {s.name: 0.0 for s in samplers}
    turn = 0
    for seed in seeds:
        noise = make_noise(seed)
        for nfe in nfes:
            for s in rotate(samplers, turn):
                turn += 1
                counted = CountingModel(model)
                sigmas = edm_sigmas(s.steps_for(nfe), dtype)
                started = time.perf_counter()
                out = s.run(counted, noise * sigmas[0], sigmas, seed)
                seconds[s.name] += time.perf_counter() - started
                calls[s.name][nfe] = counted.calls
                results[s.name][nfe].append(score(out))
            log(f"  seed {seed} NFE {nfe} done")
    return {"scores": results, "calls": calls, "seconds": seconds}


def summarize(grid: dict, metric: str, nfes) -> dict:
    return {name: {n: mean_spread([d[metric] for d in by_nfe[n]]) for n in nfes}
            for name, by_nfe in grid["scores"].items()}


def table_for(grid: dict, metric: str, nfes, samplers: list[Sampler]) -> str:
    summary = summarize(grid, metric, nfes)
    head = ["sampler", "noise"] + [f"NFE {n}" for n in nfes] + ["model calls"]
    rows = []
    for s in samplers:
        calls = "/".join(str(grid["calls"][s.name][n]) for n in nfes)
        rows.append([s.name, s.noise] + [fmt(*summary[s.name][n]) for n in nfes] + [calls])
    return markdown_table(head, rows)


def ranking_line(grid: dict, metric: str, nfes) -> str:
    summary = summarize(grid, metric, nfes)
    lines = []
    for n in nfes:
        order = sorted(summary, key=lambda name: summary[name][n][0])
        lines.append(f"- NFE {n}: " + " < ".join(order[:6]) + " < ...")
    return "\n".join(lines) + "\n"


def plot(grids: list[tuple[str, dict, str]], samplers: list[Sampler], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"ER-SDE-1": "tab:blue", "ER-SDE-2": "tab:orange", "ER-SDE-3": "tab:red", "ER-SDE-3 ref": "tab:purple",
              "Euler-a": "tab:gray", "DPM++SDE": "tab:olive", "DPM++2M-SDE": "tab:green", "DPM++3M-SDE": "tab:cyan",
              "DPM++2M ODE": "black", "Heun ODE": "tab:brown", "er_sde": "tab:pink"}

    def color(name: str) -> str:
        for key in sorted(colors, key=len, reverse=True):
            if name.startswith(key):
                return colors[key]
        return "tab:gray"

    fig, axes = plt.subplots(1, len(grids), figsize=(6.5 * len(grids), 5.2), squeeze=False)
    for ax, (metric, grid, label) in zip(axes[0], grids):
        nfes = sorted(next(iter(grid["scores"].values())))
        summary = summarize(grid, metric, nfes)
        for s in samplers:
            m = np.array([summary[s.name][n][0] for n in nfes])
            e = np.array([summary[s.name][n][1] for n in nfes])
            ax.errorbar(nfes, m, yerr=e, label=s.name, color=color(s.name), linestyle=s.style,
                        marker="o", markersize=3, capsize=2, linewidth=1.3)
        if "floor" in grid:
            ax.axhline(grid["floor"][metric][0], color="k", linewidth=0.8, linestyle=(0, (1, 3)),
                       label=grid.get("floor_label", "floor"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(nfes)
        ax.set_xticklabels([str(n) for n in nfes])
        ax.set_xlabel("NFE (model calls)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="upper right", ncol=1)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def part_mixture(samplers, args, log) -> tuple[str, dict, list]:
    means, std, mu, cov = mixture_problem()
    model = mixture_denoiser(means, std)
    n, seeds = (1000, [0, SEED_STRIDE]) if args.quick else (5000, [k * SEED_STRIDE for k in range(4)])
    reference = sample_mixture(means, std, 20000 if args.quick else 100000, torch.Generator().manual_seed(999)).numpy()
    sw = SlicedW(reference)

    def score(out: torch.Tensor) -> dict:
        x = out.double().numpy()
        m, c = gaussian_stats(x)
        return {"frechet": frechet_distance(m, c, mu, cov), "sliced_w": sw(x)}

    floor = [score(sample_mixture(means, std, n, torch.Generator().manual_seed(10_000 + s))) for s in seeds]
    grid = run_grid(samplers, model, score, seeds, NFES,
                    lambda seed: torch.randn(n, MIXTURE["dim"], generator=torch.Generator().manual_seed(seed + START_OFFSET),
                                             dtype=torch.float64), torch.float64, log)
    grid["floor"] = {k: mean_spread([f[k] for f in floor]) for k in ("frechet", "sliced_w")}
    grid["floor_label"] = "exact samples (noise floor)"
    text = (f"## 1. Exact Gaussian mixture ({MIXTURE['dim']}-D, {MIXTURE['components']} components, std {std}, "
            f"float64)\n\n{n} samples per seed, seeds {seeds}; mean ± std over seeds.\n"
            f"Noise floor (exact samples of the same size): Frechet {fmt(*grid['floor']['frechet'])}, "
            f"sliced W {fmt(*grid['floor']['sliced_w'])}.\n\n"
            f"### Frechet distance to the exact mean and covariance (lower is better)\n\n"
            + table_for(grid, "frechet", NFES, samplers)
            + "\nBest six per NFE (by mean):\n" + ranking_line(grid, "frechet", NFES)
            + "\n### Sliced Wasserstein distance to exact samples (lower is better)\n\n"
            + table_for(grid, "sliced_w", NFES, samplers)
            + "\nBest six per NFE (by mean):\n" + ranking_line(grid, "sliced_w", NFES))
    return text, grid, [("frechet", grid, "mixture: Frechet distance to exact moments"),
                        ("sliced_w", grid, "mixture: sliced Wasserstein distance")]


def part_digits(samplers, args, log) -> tuple[str, dict, list]:
    from .digits_model import as_sampler_model, load_digits_data, load_models
    denoiser, classifier = load_models()
    model = as_sampler_model(denoiser)
    real = load_digits_data()
    with torch.no_grad():
        ref_mu, ref_cov = gaussian_stats(classifier.features(real).double().numpy())
    n, seeds = (500, [0]) if args.quick else (3000, [k * SEED_STRIDE for k in range(5)])

    def score(out: torch.Tensor) -> dict:
        with torch.no_grad():
            f = classifier.features(out.float().clamp(-1, 1)).double().numpy()
        m, c = gaussian_stats(f)
        return {"fid": frechet_distance(m, c, ref_mu, ref_cov)}

    def make_noise(seed: int) -> torch.Tensor:
        return torch.randn(n, real.shape[1], generator=torch.Generator().manual_seed(seed + START_OFFSET))

    grid = run_grid(samplers, model, score, seeds, NFES, make_noise, torch.float32, log)
    # floors: what a converged sampler reaches with this model, and the real data's own sampling noise
    converged_nfe = 100 if args.quick else 200
    conv = {}
    for s in samplers:
        if s.name in ("ER-SDE-3", "ER-SDE-3, phi=x^2 (diagnostic)", "DPM++2M ODE (k-diff)", "DPM++2M-SDE (k-diff)"):
            sig = edm_sigmas(converged_nfe, torch.float32)
            conv[s.name] = score(s.run(model, make_noise(seeds[0]) * sig[0], sig, seeds[0]))["fid"]
    half = torch.randperm(real.shape[0], generator=torch.Generator().manual_seed(0))[: real.shape[0] // 2]
    split_fid = score(real[half])["fid"]
    ode = [v for k, v in conv.items() if "ODE" in k]
    grid["floor"] = {"fid": (ode[0] if ode else split_fid, 0.0)}
    grid["floor_label"] = f"DPM++2M ODE at {converged_nfe} NFE" if ode else "real half vs all"
    floor_text = ", ".join(f"{k} at {converged_nfe} NFE: {v:.3g}" for k, v in conv.items())
    text = (f"## 2. Learned model: digits denoiser, digits FID (lower is better)\n\n"
            f"{n} samples per seed, seeds {seeds}; mean ± std over seeds; float32.\n"
            f"Converged samplers, seed {seeds[0]} ({floor_text or 'not run'}; the plot's dotted line is the "
            f"ODE's); half of the real digits against all of them: {split_fid:.3g}. The FID is against real "
            f"digits, so it mixes the model's error with the sampler's: a sampler's bias can cancel part of "
            f"the model's, and a converged SDE and a converged ODE need not agree for a learned model.\n\n"
            + table_for(grid, "fid", NFES, samplers)
            + "\nBest six per NFE (by mean):\n" + ranking_line(grid, "fid", NFES))
    grid["converged"] = conv
    grid["real_half_fid"] = split_fid
    return text, grid, [("fid", grid, "digits FID (classifier features)")]


def part_consistency(args, log) -> tuple[str, dict]:
    from .digits_model import as_sampler_model, load_models
    from .samplers import kdiffusion_samplers
    denoiser, _ = load_models()
    model = as_sampler_model(denoiser)
    n = 16 if args.quick else 128
    seed = 0
    noise = torch.randn(n, 64, generator=torch.Generator().manual_seed(seed + START_OFFSET))

    def er(order: int, brownian: bool):
        def run(steps: int) -> torch.Tensor:
            sig = edm_sigmas(steps)
            ns = brownian_noise_sampler(noise, *schedule_range(sig), seed) if brownian else None
            return sample_er_sde(model, noise * sig[0], sig, extra_args={"seed": seed}, disable=True,
                                 order=order, noise_sampler=ns)
        return run

    runs = []
    for order in (1, 2, 3):
        runs.append((f"ER-SDE-{order}", "per-item Gaussian", er(order, False)))
        runs.append((f"ER-SDE-{order}", "Brownian (one tree per item)", er(order, True)))
    peers, _ = kdiffusion_samplers(bridge_off=True)  # a Brownian tree: the same path whatever the steps
    for s in peers:
        if s.name in ("Euler-a (k-diff)", "DPM++2M-SDE (k-diff)", "DPM++2M ODE (k-diff)"):
            runs.append((s.name, s.noise, lambda steps, s=s: s.run(model, noise * SIGMA_MAX, edm_sigmas(steps), seed)))
    rows, data = [], {}
    for name, noise_kind, run in runs:
        a, b = run(20), run(40)
        dist = (a - b).flatten(1).norm(dim=1)
        between = (a - a.roll(1, 0)).flatten(1).norm(dim=1).mean().item()
        rows.append([name, noise_kind, f"{dist.mean().item():.3f}", f"{dist.median().item():.3f}", f"{between:.3f}"])
        data[f"{name} / {noise_kind}"] = {"mean_l2": dist.mean().item(), "median_l2": dist.median().item(),
                                          "between_samples_l2": between}
        log(f"  consistency {name} {noise_kind}: {dist.mean().item():.3f}")
    text = (f"## 3. Step-count consistency (digits model, {n} samples, seed {seed})\n\n"
            "L2 distance (64 pixels in [-1, 1]) between the 20-step and the 40-step result of the same seed; "
            "the last column is the distance between two different samples, for scale.\n\n"
            + markdown_table(["sampler", "noise", "mean L2 20 vs 40", "median", "different samples"], rows))
    return text, data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small samples, fewer seeds: a smoke run of a minute or two")
    parser.add_argument("--parts", default="mixture,digits,consistency")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: small ops run faster on one thread, and the machine is shared)")
    parser.add_argument("--out", default=None, help="output folder (default bench/results, or bench/results/quick)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    out = out_dir(args.out, args.quick)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s]{msg}", flush=True)

    samplers, notes = all_samplers()
    for note in notes:
        print(f"note: {note}")
    report = [header("Quality benchmark" + (" (--quick)" if args.quick else ""),
                     ["bench.quality"] + (sys.argv[1:] if argv is None else argv))]
    report.append("- notes: " + ("; ".join(notes) if notes else "all peers present") + "\n")
    report.append("- equal NFE: one-call samplers get NFE steps, dpmpp_sde and heun NFE // 2 steps "
                  "(NFE - 1 calls, the last step is a single call); the model calls of every run are listed.\n")
    results: dict = {"notes": notes}
    panels = []
    if "mixture" in parts:
        log(" exact mixture")
        text, grid, p = part_mixture(samplers, args, log)
        report.append(text)
        results["mixture"] = grid
        panels += p
    if "digits" in parts:
        log(" digits model")
        text, grid, p = part_digits(samplers, args, log)
        report.append(text)
        results["digits"] = grid
        panels += p
    if "consistency" in parts:
        log(" step-count consistency")
        text, data = part_consistency(args, log)
        report.append(text)
        results["consistency"] = data
    if panels:
        plot(panels, samplers, out / "quality.png",
             f"ER-SDE-Solver vs peers, EDM schedule, equal NFE (mean ± std over seeds); {report[0].splitlines()[2][2:]}")
        png = (out / "quality.png").resolve()
        try:
            png = png.relative_to(Path(__file__).resolve().parents[1])
        except ValueError:
            pass
        report.append(f"\nPlot: `{png.as_posix()}`\n")
    report.append(f"\nTotal time {time.perf_counter() - started:.0f} s.\n")
    text = "\n".join(report)
    (out / "quality.md").write_text(text)
    (out / "quality.json").write_text(json.dumps(results, indent=1, default=str))
    print(text)


if __name__ == "__main__":
    main()
