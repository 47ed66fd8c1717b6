"""Demo: ER-SDE-Solver Auto, 1/2/3 and two peers sampling a small learned model of 8x8 digits.

    python demo.py [--nfe 10 20] [--samples 10] [--seed 0] [--out er_sde_demo.png]
    python demo.py --mixture [--nfe 10]     # the 2-D Gaussian mixture with its exact denoiser

The model is the EDM-preconditioned digits denoiser committed in bench/models/weights/digits.pt
(trained by `python -m bench.models.train_digits` on scikit-learn's digits). Every sampler starts
from the same noise with the same per-sample seeds, on the EDM schedule (sigma 80 -> 0.002
-> 0); NFE = model calls. ER-SDE-Solver Auto (the name the README says to pick) gets the
guidance scale 1: the model is unguided. The two peers, Euler ancestral (stochastic) and
DPM-Solver++(2M) (the ODE solver the paper finds best at very low NFE), are written out below in their
k-diffusion form, so the demo needs only torch and matplotlib; tests/bench checks that
they match k-diffusion step for step.
"""
from __future__ import annotations

import argparse
import math
import time
from typing import Callable

import torch

from k_diffusion_ext import sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture, sample_mixture
from k_diffusion_ext.registration import sample_er_sde_solver_auto

Model = Callable[..., torch.Tensor]
NoiseSampler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@torch.no_grad()
def sample_euler_ancestral(model: Model, x: torch.Tensor, sigmas: torch.Tensor, noise_sampler: NoiseSampler,
                           eta: float = 1.0) -> torch.Tensor:
    """k-diffusion's sample_euler_ancestral: an Euler step down to sigma_down, then fresh noise up to sigma_next."""
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        sigma_up = min(sigmas[i + 1], eta * (sigmas[i + 1] ** 2 * (sigmas[i] ** 2 - sigmas[i + 1] ** 2)
                                             / sigmas[i] ** 2) ** 0.5)
        sigma_down = (sigmas[i + 1] ** 2 - sigma_up ** 2) ** 0.5
        d = (x - denoised) / sigmas[i]
        x = x + d * (sigma_down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * sigma_up
    return x


@torch.no_grad()
def sample_dpmpp_2m(model: Model, x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """k-diffusion's sample_dpmpp_2m: DPM-Solver++(2M), the multistep second-order ODE solver."""
    s_in = x.new_ones([x.shape[0]])
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        t, t_next = -sigmas[i].log(), -sigmas[i + 1].log()
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            x = (sigmas[i + 1] / sigmas[i]) * x - (-h).expm1() * denoised
        else:
            h_last = t - (-sigmas[i - 1].log())
            r = h_last / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (sigmas[i + 1] / sigmas[i]) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def seeded_noise(shape: tuple[int, ...], seed: int) -> NoiseSampler:
    """Independent Gaussian noise per step from one seeded CPU generator."""
    gen = torch.Generator().manual_seed(seed + 1)  # not the starting noise's stream
    return lambda sigma, sigma_next: torch.randn(shape, generator=gen)


def digits_demo(args: argparse.Namespace) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.models.digits import as_sampler_model, load_models

    denoiser, _ = load_models()
    model = as_sampler_model(denoiser)
    n = args.samples
    # the starting noise from its own stream: a noise sampler seeded like it would inject it again
    x_T = torch.randn(n, 64, generator=torch.Generator().manual_seed(args.seed + 1_000_003))
    samplers: list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = [
        ("ER-SDE-Solver Auto", lambda s: sample_er_sde_solver_auto(
            model, x_T * s[0], s, disable=True, extra_args={"seed": args.seed}, guidance_scale=1.0))]
    for order in (1, 2, 3):
        samplers.append((f"ER-SDE-Solver-{order}", lambda s, o=order: sample_er_sde(
            model, x_T * s[0], s, order=o, disable=True, extra_args={"seed": args.seed})))
    samplers.append(("Euler ancestral", lambda s: sample_euler_ancestral(
        model, x_T * s[0], s, seeded_noise((n, 64), args.seed))))
    samplers.append(("DPM-Solver++(2M) ODE", lambda s: sample_dpmpp_2m(model, x_T * s[0], s)))

    fig, axes = plt.subplots(len(samplers), len(args.nfe), figsize=(0.62 * n * len(args.nfe) + 1.2,
                                                                      0.75 * len(samplers) + 0.9), squeeze=False)
    for col, nfe in enumerate(args.nfe):
        sigmas = karras_sigmas(nfe, 0.002, 80.0, 7.0, dtype=torch.float32)
        for row, (name, run) in enumerate(samplers):
            images = run(sigmas).clamp(-1, 1).reshape(n, 8, 8)
            strip = torch.cat([torch.nn.functional.pad(im, (1, 1, 1, 1), value=-1.0) for im in images], dim=1)
            ax = axes[row][col]
            ax.imshow(strip.numpy(), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
            if row == 0:
                ax.set_title(f"{nfe} NFE", fontsize=10)
    fig.suptitle("Learned 8x8 digits model, EDM schedule, same noise and seeds in every row", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    plt.close(fig)


def mixture_demo(args: argparse.Namespace) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = args.nfe[0]
    means, std, sigma_max, samples = ring_mixture(), 0.3, 80.0, 4000
    model = mixture_denoiser(means, std)
    sigmas = karras_sigmas(steps, 0.002, sigma_max)
    gen = torch.Generator().manual_seed(args.seed)
    noise = torch.randn(samples, 2, generator=gen, dtype=torch.float64) * sigma_max
    panels = [("exact samples", sample_mixture(means, std, samples, gen)),
              (f"ER-SDE-Solver Auto, {steps} NFE", sample_er_sde_solver_auto(
                  model, noise, sigmas, disable=True, extra_args={"seed": args.seed}, guidance_scale=1.0))]
    for order in (1, 2, 3):
        out = sample_er_sde(model, noise, sigmas, order=order, disable=True, extra_args={"seed": args.seed})
        panels.append((f"ER-SDE-Solver-{order}, {steps} NFE", out))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.2), sharex=True, sharey=True)
    for ax, (title, pts) in zip(axes, panels):
        ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.4, color="tab:blue")
        ax.scatter(means[:, 0], means[:, 1], s=12, marker="x", color="tab:red")
        ax.set_title(title)
        ax.set_xlim(-6.5, 6.5)
        ax.set_ylim(-6.5, 6.5)
        ax.set_aspect("equal")
    fig.suptitle("2-D Gaussian mixture, exact denoiser, EDM schedule (sigma 80 -> 0.002 -> 0)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nfe", type=int, nargs="+", default=[10, 20], help="model calls per sample (one column each)")
    parser.add_argument("--samples", type=int, default=10, help="digits per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixture", action="store_true", help="the 2-D mixture demo instead (first --nfe only)")
    parser.add_argument("--out", default="er_sde_demo.png")
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.nfe):
        parser.error("--nfe values must be >= 1")
    started = time.perf_counter()
    (mixture_demo if args.mixture else digits_demo)(args)
    print(f"wrote {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
