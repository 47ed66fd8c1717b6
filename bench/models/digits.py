"""The learned model of the benchmarks: a small EDM-preconditioned denoiser of scikit-learn's
8x8 digits and a small digit classifier whose features give a "digits FID".

Torch only (the demo imports this without scikit-learn); bench/models/train_digits.py trains both
and writes bench/models/weights/digits.pt.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn

WEIGHTS = Path(__file__).resolve().parent / "weights" / "digits.pt"
DIM = 64  # 8 x 8 pixels, scaled to [-1, 1]


def load_digits_data(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """scikit-learn's digits (1797 x 64, values 0..16) scaled to [-1, 1]."""
    from sklearn.datasets import load_digits
    return torch.as_tensor(load_digits().data / 8.0 - 1.0, dtype=dtype)


def load_digits_labels() -> torch.Tensor:
    from sklearn.datasets import load_digits
    return torch.as_tensor(load_digits().target, dtype=torch.long)


class DigitsDenoiser(nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) (Karras et al. 2022), F a residual MLP."""

    def __init__(self, hidden: int = 256, blocks: int = 3, fourier: int = 32, sigma_data: float = 0.75):
        super().__init__()
        self.sigma_data = sigma_data
        self.register_buffer("freqs", math.pi * torch.linspace(0.25, 16.0, fourier // 2))
        self.embed = nn.Sequential(nn.Linear(fourier + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(DIM, hidden)
        self.norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(blocks)])
        self.layers = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(blocks)])
        self.out = nn.Linear(hidden, DIM)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        dtype = x.dtype
        x32 = x.float()
        sigma = sigma.float().reshape(-1, 1).expand(x.shape[0], 1)
        sd2 = self.sigma_data ** 2
        total = sigma * sigma + sd2
        c_skip, c_out, c_in = sd2 / total, sigma * self.sigma_data / total.sqrt(), total.rsqrt()
        c_noise = sigma.log() / 4
        # samplers call with one noise level for the whole batch: embed it once
        level = c_noise[:1] if bool((c_noise == c_noise[:1]).all()) else c_noise
        angles = level * self.freqs
        emb = self.embed(torch.cat([level, angles.sin(), angles.cos()], dim=1))
        h = self.inp(c_in * x32) + emb
        for norm, layer in zip(self.norms, self.layers):
            h = h + layer(nn.functional.silu(norm(h)))
        return (c_skip * x32 + c_out * self.out(nn.functional.silu(h))).to(dtype)


class DigitsClassifier(nn.Module):
    """64 -> 256 -> 64 -> 10 MLP; the 64 features before the last layer give the digits FID."""

    def __init__(self, hidden: int = 256, features: int = 64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(DIM, hidden), nn.ReLU(), nn.Linear(hidden, features), nn.ReLU())
        self.head = nn.Linear(features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def load_models(path: Path | str = WEIGHTS) -> tuple[DigitsDenoiser, DigitsClassifier]:
    """The committed weights, in eval mode, gradients off."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    denoiser = DigitsDenoiser(**state["denoiser_config"])
    denoiser.load_state_dict(state["denoiser"])
    classifier = DigitsClassifier(**state["classifier_config"])
    classifier.load_state_dict(state["classifier"])
    for m in (denoiser, classifier):
        m.eval().requires_grad_(False)
    return denoiser, classifier


def as_sampler_model(denoiser: DigitsDenoiser) -> Callable[..., torch.Tensor]:
    """k-diffusion convention model(x, sigma, **extra_args) -> x0, without autograd."""
    def model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        with torch.no_grad():
            return denoiser(x, sigma)
    return model
