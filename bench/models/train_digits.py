"""Train the digits denoiser and classifier of the quality benchmark and the demo.

    python -m bench.models.train_digits [--steps 20000] [--out bench/models/weights/digits.pt]

EDM training (Karras et al. 2022): ln sigma ~ N(-1.2, 1.2^2), loss weight
(sigma^2 + sigma_data^2) / (sigma sigma_data)^2, EMA of the weights. Takes a few minutes
on 2 CPU cores. The classifier is trained on 1500 digits and its accuracy on the other
297 is printed; its 64 penultimate features define the digits FID.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from .digits import WEIGHTS, DigitsClassifier, DigitsDenoiser, load_digits_data, load_digits_labels


def edm_noise_levels(batch: int, sigma_data: float) -> tuple[torch.Tensor, torch.Tensor]:
    """EDM training noise levels, ln sigma ~ N(-1.2, 1.2^2), and their loss weights on the denoised output."""
    sigma = (torch.randn(batch, 1) * 1.2 - 1.2).exp()
    return sigma, (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2


def step_with_ema(loss: torch.Tensor, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler,
                  net: torch.nn.Module, ema: torch.nn.Module, step: int) -> None:
    """One optimiser and learning-rate step, then the EMA of the weights (decay ramping up to 0.999)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    with torch.no_grad():
        decay = min(0.999, (1 + step) / (10 + step))
        for pe, p in zip(ema.parameters(), net.parameters()):
            pe.lerp_(p, 1 - decay)


def train_denoiser(data: torch.Tensor, steps: int, batch: int, seed: int) -> DigitsDenoiser:
    torch.manual_seed(seed)
    sigma_data = float(data.std())
    config = {"sigma_data": round(sigma_data, 4)}
    net = DigitsDenoiser(**config)
    ema = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    started = time.perf_counter()
    for step in range(steps):
        x0 = data[torch.randint(0, data.shape[0], (batch,))]
        sigma, weight = edm_noise_levels(batch, net.sigma_data)
        pred = net(x0 + sigma * torch.randn_like(x0), sigma)
        loss = (weight * (pred - x0) ** 2).mean()
        step_with_ema(loss, opt, sched, net, ema, step)
        if step % 2000 == 0 or step == steps - 1:
            print(f"denoiser step {step:6d} loss {loss.item():.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
    ema.denoiser_config = config
    return ema


def train_classifier(data: torch.Tensor, labels: torch.Tensor, steps: int, seed: int) -> DigitsClassifier:
    torch.manual_seed(seed)
    perm = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(0))
    train, test = perm[:1500], perm[1500:]
    net = DigitsClassifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    for step in range(steps):
        idx = train[torch.randint(0, len(train), (128,))]
        x = data[idx] + 0.05 * torch.randn(128, data.shape[1])
        loss = torch.nn.functional.cross_entropy(net(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (net(data[test]).argmax(1) == labels[test]).float().mean().item()
    print(f"classifier: held-out accuracy {acc:.3f} on {len(test)} items")
    return net.requires_grad_(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(WEIGHTS))
    args = parser.parse_args()
    data, labels = load_digits_data(), load_digits_labels()
    classifier = train_classifier(data, labels, 3000, args.seed)
    denoiser = train_denoiser(data, args.steps, args.batch, args.seed)
    state = {
        "denoiser": denoiser.state_dict(), "denoiser_config": denoiser.denoiser_config,
        "classifier": classifier.state_dict(), "classifier_config": {},
        "trained": {"steps": args.steps, "batch": args.batch, "seed": args.seed, "torch": str(torch.__version__)},
    }
    torch.save(state, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
