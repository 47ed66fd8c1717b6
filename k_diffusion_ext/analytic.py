"""Data sets whose noised denoiser is known exactly, for testing and benchmarking samplers.

With such a denoiser the only error left in a sample is the sampler's own, so accuracy
and convergence order can be measured without a learned model.
"""
from __future__ import annotations

import math
from typing import Callable

import torch


def karras_sigmas(steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
                  append_zero: bool = True, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The EDM schedule (Karras et al. 2022): `steps` sigmas from sigma_max to sigma_min, then 0."""
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    if append_zero:
        sigmas = torch.cat([sigmas, sigmas.new_zeros(1)])
    return sigmas.to(dtype)


def gaussian_denoiser(mean: torch.Tensor, var: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Exact x0 prediction E[x0 | x0 + sigma n = x] for x0 ~ N(mean, diag(var)) (VE)."""
    def model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        s2 = sigma.reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype) ** 2
        return mean + var / (var + s2) * (x - mean)
    return model


def mixture_denoiser(means: torch.Tensor, std: float, weights: torch.Tensor | None = None
                     ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Exact x0 prediction for an isotropic Gaussian mixture (means: K x D, one std) in VE form.

    Noised, component k is N(means[k], (std^2 + sigma^2) I); the posterior mean is the
    responsibility-weighted sum of each component's Gaussian denoiser."""
    k, dim = means.shape
    log_w = torch.log(torch.full((k,), 1.0 / k, dtype=means.dtype) if weights is None else weights / weights.sum())

    def model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        s2 = sigma.reshape(-1, 1, 1).to(x.dtype) ** 2
        total = std * std + s2                                   # B x 1 x 1
        diff = x[:, None, :] - means.to(x)[None]                 # B x K x D
        logits = log_w.to(x)[None] - 0.5 * (diff * diff).sum(-1) / total[..., 0] - 0.5 * dim * torch.log(total[..., 0])
        resp = torch.softmax(logits, dim=1)[..., None]           # B x K x 1
        per_component = means.to(x)[None] + (std * std / total) * diff
        return (resp * per_component).sum(1)

    return model


def sample_mixture(means: torch.Tensor, std: float, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Exact samples of the mixture (equal weights)."""
    idx = torch.randint(0, means.shape[0], (n,), generator=generator)
    return means[idx] + std * torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype)


def ring_mixture(components: int = 8, radius: float = 4.0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Means of a 2-D mixture on a ring: a picture that shows a sampler's spread at a glance."""
    angles = torch.arange(components, dtype=dtype) * (2 * math.pi / components)
    return radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def guided_mixture_denoiser(means: torch.Tensor, std: float, classes: torch.Tensor, labels: torch.Tensor,
                            scale: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Classifier-free guidance on exact mixture denoisers (VE), item b conditioned on class labels[b]:

        D_w = D_u + scale (D_c - D_u),

    D_u the whole mixture's x0 prediction (means: K x D, one std, equal weights), D_c that of the
    components k with classes[k] == labels[b] (the class's own mixture). Both are exact, so the
    only error left in a guided sample is the sampler's; scale 1 is the class's exact denoiser."""
    k, dim = means.shape
    if classes.shape != (k,):
        raise ValueError(f"classes needs one class per component ({k}), got shape {tuple(classes.shape)}")
    if not bool((labels[:, None] == classes[None]).any(1).all()):
        raise ValueError("every label must be the class of at least one component")
    member = labels[:, None] == classes[None]                    # B x K

    def model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        s2 = sigma.reshape(-1, 1, 1).to(x.dtype) ** 2
        total = std * std + s2                                   # B x 1 x 1
        diff = x[:, None, :] - means.to(x)[None]                 # B x K x D
        logits = -0.5 * (diff * diff).sum(-1) / total[..., 0]    # equal weights and one std: shared terms cancel
        per_component = means.to(x)[None] + (std * std / total) * diff
        uncond = (torch.softmax(logits, dim=1)[..., None] * per_component).sum(1)
        cond_logits = logits.masked_fill(~member.to(x.device), float("-inf"))
        cond = (torch.softmax(cond_logits, dim=1)[..., None] * per_component).sum(1)
        return uncond + scale * (cond - uncond)

    return model
