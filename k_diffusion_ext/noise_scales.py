"""Noise-scale functions phi(lambda) of ER-SDE-Solver (Cui et al., arXiv 2309.06169).

A noise-scale function phi picks one member of the extended reverse-time SDE family:
the injected noise has h(t)^2 = g(t)^2 (x phi'(x) / phi(x) - 1), so phi must be positive
with phi(x)/x non-decreasing. phi(x) = x is the probability-flow ODE, phi(x) = x^2 the
classical reverse SDE.

Every function here takes and returns a float64 tensor of lambdas. Power laws carry
their exponent in the attribute ``exponent`` so that the solver can use closed-form
integrals for them.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .expression import parse_noise_scale

NoiseScale = Callable[[torch.Tensor], torch.Tensor]


def power_noise_scale(exponent: float) -> NoiseScale:
    """phi(x) = x^exponent. exponent = 1 is the ODE, 2 the reverse SDE; 1 + eta gives h^2 = eta g^2."""
    if not math.isfinite(exponent) or exponent < 1.0:
        raise ValueError(
            f"a power-law noise scale x^p needs p >= 1 (p = {exponent} would make the noise variance negative)")

    def phi(x: torch.Tensor) -> torch.Tensor:
        return x ** exponent

    phi.exponent = float(exponent)
    phi.__name__ = f"power_{exponent:g}"
    phi.__doc__ = f"phi(x) = x^{exponent:g}"
    return phi


def paper_default(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = x (exp(x^0.3) + 10): the paper's default (SDE_5 in the reference code).

    SDE-like at high noise, ODE-like at low noise."""
    return x * (torch.exp(x ** 0.3) + 10.0)


def exp_neg_inv(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = x (exp(-1/x) + 10): SDE_1 of the reference code with eta = 0."""
    return x * (torch.exp(-1.0 / x) + 10.0)


def log_mix(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = x^0.9 log10(1 + 100 x^1.5): SDE_4 of the reference code."""
    return x ** 0.9 * torch.log10(1.0 + 100.0 * x ** 1.5)


# Names are stored in saved workflows: never rename or remove one, only add.
NOISE_SCALES: dict[str, NoiseScale] = {
    "paper_default": paper_default,
    "ode": power_noise_scale(1.0),
    "reverse_sde": power_noise_scale(2.0),
    "exp_neg_inv": exp_neg_inv,
    "power_1.5": power_noise_scale(1.5),
    "power_2.5": power_noise_scale(2.5),
    "log_mix": log_mix,
}
NOISE_SCALES["ode"].__doc__ = "phi(x) = x: the probability-flow ODE, no noise."
NOISE_SCALES["reverse_sde"].__doc__ = "phi(x) = x^2: the classical reverse-time SDE."
NOISE_SCALES["power_1.5"].__doc__ = "phi(x) = x^1.5 (SDE_2 of the reference code): h^2 = g^2 / 2."
NOISE_SCALES["power_2.5"].__doc__ = "phi(x) = x^2.5 (SDE_3 of the reference code): h^2 = 1.5 g^2."

DEFAULT_NOISE_SCALE = "paper_default"


def with_strength(phi: NoiseScale, eta: float) -> NoiseScale:
    """psi(x) = x^(1 - eta) phi(x)^eta: eta = 0 is the ODE, eta = 1 is phi itself.

    psi(x)/x = (phi(x)/x)^eta, so psi meets the constraint whenever phi does, for any
    eta >= 0. A power law stays a power law (exponent 1 + eta (p - 1))."""
    if not math.isfinite(eta) or eta < 0.0:
        raise ValueError(f"eta must be a finite number >= 0 (0 = ODE, 1 = the noise scale as named), got {eta}")
    if eta == 1.0:
        return phi
    exponent = getattr(phi, "exponent", None)
    if exponent is not None:
        return power_noise_scale(1.0 + eta * (exponent - 1.0))
    if eta == 0.0:
        return power_noise_scale(1.0)

    def psi(x: torch.Tensor) -> torch.Tensor:
        return x ** (1.0 - eta) * phi(x) ** eta

    return psi


def resolve_noise_scale(noise_scale: str | NoiseScale, eta: float = 1.0) -> NoiseScale:
    """A name from NOISE_SCALES, a custom expression in x, or a callable -> phi reshaped by eta."""
    if callable(noise_scale):
        phi = noise_scale
    elif isinstance(noise_scale, str):
        if noise_scale in NOISE_SCALES:
            phi = NOISE_SCALES[noise_scale]
        else:
            if noise_scale.strip().isidentifier() and noise_scale.strip() != "x":
                known = ", ".join(NOISE_SCALES)
                raise ValueError(
                    f"unknown noise scale {noise_scale!r}; known names: {known} "
                    "(or write an expression in x, such as 'x * (exp(x**0.3) + 10)')")
            phi = parse_noise_scale(noise_scale)
    else:
        raise ValueError(f"noise_scale must be a name, an expression string or a callable, got {type(noise_scale).__name__}")
    return with_strength(phi, eta)


def check_noise_scale(phi: NoiseScale, lambdas: torch.Tensor) -> torch.Tensor:
    """Evaluate phi on positive float64 lambdas and check phi > 0, finite, phi(x)/x non-decreasing.

    Returns phi(lambdas). Raises ValueError naming the first offending lambda."""
    with torch.no_grad():
        try:
            values = phi(lambdas)
        except ValueError:
            raise
        except Exception as exc:  # a user's callable can fail in any way
            raise ValueError(f"the noise scale function failed on the schedule's lambdas: {exc}") from exc
        values = torch.as_tensor(values, dtype=torch.float64)
        if values.shape != lambdas.shape:
            values = values.expand(lambdas.shape) if values.numel() == 1 else values
        if values.shape != lambdas.shape:
            raise ValueError(
                f"the noise scale function must return one value per lambda (shape {tuple(lambdas.shape)}), "
                f"got shape {tuple(values.shape)}")
        bad = ~torch.isfinite(values) | (values <= 0)
        if bad.any():
            i = int(bad.nonzero()[0])
            raise ValueError(
                f"the noise scale must be finite and > 0 for every lambda > 0, "
                f"but phi({lambdas[i].item():.6g}) = {values[i].item():.6g}")
        ratio = values / lambdas
        order = torch.argsort(lambdas)
        sorted_l, sorted_ratio = lambdas[order], ratio[order]
        # phi(x)/x may be flat (the ODE); allow rounding noise, not a real decrease
        drop = sorted_ratio[1:] < sorted_ratio[:-1] * (1.0 - 1e-9)
        if drop.any():
            j = int(drop.nonzero()[0])
            raise ValueError(
                "the noise scale breaks the constraint phi(x)/x non-decreasing (the noise variance would be "
                f"negative): phi(x)/x falls from {sorted_ratio[j].item():.6g} at lambda = {sorted_l[j].item():.6g} "
                f"to {sorted_ratio[j + 1].item():.6g} at lambda = {sorted_l[j + 1].item():.6g}")
    return values
