"""Train a class-conditional digits denoiser with label dropout (for classifier-free guidance).

    python -m bench.models.train_labelled --param edm|flow [--steps 16000] [--out PATH]

- edm: EDM training (Karras et al. 2022), ln sigma ~ N(-1.2, 1.2^2), loss weight
  (sigma^2 + sigma_data^2) / (sigma sigma_data)^2 on the denoised output.
- flow: rectified flow (Liu et al. 2022; SD3's training, Esser et al. 2024): x_t = (1 - t) x0
  + t eps, t = sigmoid(N(0, 1)) (logit-normal), MSE on the velocity eps - x0.

Labels are replaced by NULL_LABEL with probability 0.1. EMA of the weights. One torch thread
and fixed seeds: the same command gives the same weights on the same torch build.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from .digits import load_digits_data, load_digits_labels
from .labelled import NULL_LABEL, LabelledDigitsDenoiser, weights_path
from .train_digits import edm_noise_levels, step_with_ema

P_UNCOND = 0.1


def train(param: str, steps: int, batch: int, seed: int, data: torch.Tensor | None = None,
          labels: torch.Tensor | None = None, **net_config) -> tuple[LabelledDigitsDenoiser, dict]:
    """data, labels: the digits unless given (bench.models.train_photo passes its photographs);
    net_config: LabelledDigitsDenoiser's size arguments, saved in the weights' config."""
    torch.manual_seed(seed)
    if data is None:
        data, labels = load_digits_data(), load_digits_labels()
    config = {"param": param, "sigma_data": round(float(data.std()), 4), **net_config}
    net = LabelledDigitsDenoiser(**config)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    started = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, data.shape[0], (batch,))
        x0, y = data[idx], labels[idx].clone()
        y[torch.rand(batch) < P_UNCOND] = NULL_LABEL
        eps = torch.randn_like(x0)
        if param == "edm":
            sigma, weight = edm_noise_levels(batch, net.sigma_data)
            loss = (weight * (net(x0 + sigma * eps, sigma, y) - x0) ** 2).mean()
        else:
            t = torch.randn(batch, 1).sigmoid().clamp(1e-4, 1 - 1e-4)
            x_t = (1 - t) * x0 + t * eps
            # D = x - t v, so (x_t - D) / t is the net's velocity; compare it to eps - x0
            v = (x_t - net(x_t, t, y)) / t
            loss = ((v - (eps - x0)) ** 2).mean()
        step_with_ema(loss, opt, sched, net, ema, step)
        if step % 2000 == 0 or step == steps - 1:
            print(f"{param} step {step:6d} loss {loss.item():.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
    return ema, config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--param", choices=("edm", "flow"), required=True)
    parser.add_argument("--steps", type=int, default=16000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    net, config = train(args.param, args.steps, args.batch, args.seed)
    out = args.out or weights_path(args.param)
    torch.save({"net": net.state_dict(), "config": config, "p_uncond": P_UNCOND,
                "trained": {"steps": args.steps, "batch": args.batch, "seed": args.seed,
                            "torch": str(torch.__version__)}}, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
