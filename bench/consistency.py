"""Step-count consistency: the same seed at 20 and 40 steps on the digits model.

    python -m bench.consistency [--n 128]

Mean L2 distance (64 pixels in [-1, 1]) between the 20-step and the 40-step result of a seed,
ER-SDE-1/2/3 with per-item Gaussian noise against Brownian noise (one path per item), and
peers: euler_ancestral (fresh noise a step), dpmpp_2m_sde on its default Brownian tree
(ComfyUI's, through COMFYUI_DIR; PyPI k-diffusion's otherwise) and the dpmpp_2m ODE. Writes
bench/results/consistency/consistency.md.
"""
from __future__ import annotations

import argparse

import torch

from k_diffusion_ext import brownian_noise_sampler, sample_er_sde, schedule_range

from .common import header, markdown_table, out_dir
from .models.digits import as_sampler_model, load_models
from .quality import START_OFFSET
from .samplers import _ComfyModel, comfy_module, edm_sigmas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)
    denoiser, _ = load_models()
    model = as_sampler_model(denoiser)
    seed = 0
    noise = torch.randn(args.n, 64, generator=torch.Generator().manual_seed(seed + START_OFFSET))

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
        runs.append((f"ER-SDE-{order}", "Brownian (one path per item)", er(order, True)))
    comfy, _ = comfy_module()
    if comfy is not None:
        for name, kind in (("euler_ancestral", "torch.randn"), ("dpmpp_2m_sde", "Brownian tree (torchsde)"),
                           ("dpmpp_2m", "none (ODE)")):
            fn = getattr(comfy.sampling, f"sample_{name}")
            runs.append((name, kind, lambda steps, fn=fn: fn(_ComfyModel(model, comfy.model_sampling),
                                                             noise * edm_sigmas(steps)[0], edm_sigmas(steps),
                                                             extra_args={"seed": seed}, disable=True)))
    rows = []
    for name, kind, run in runs:
        torch.manual_seed(seed)
        a = run(20)
        torch.manual_seed(seed)
        b = run(40)
        dist = (a - b).flatten(1).norm(dim=1)
        between = (a - a.roll(1, 0)).flatten(1).norm(dim=1).mean().item()
        rows.append([name, kind, f"{dist.mean().item():.3f}", f"{dist.median().item():.3f}", f"{between:.3f}"])
        print(rows[-1], flush=True)
    text = (header("Step-count consistency (digits model)", ["bench.consistency"])
            + f"\n{args.n} samples, seed {seed}. L2 distance between the 20-step and the 40-step result of the same "
            "seed; the last column is the distance between two different samples, for scale.\n\n"
            + markdown_table(["sampler", "noise", "mean L2 20 vs 40", "median", "different samples"], rows))
    (out_dir("consistency") / "consistency.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
