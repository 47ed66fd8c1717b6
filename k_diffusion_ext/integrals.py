"""The exact integrals of an ER-SDE step: S_k = Int_{lambda_t}^{lambda_s} (l - lambda_s)^(k-1) / phi(l) dl.

In closed form for phi(x) = x^p (written with expm1 to stay exact near p = 1, 2), otherwise by
composite Gauss-Legendre in u = log lambda, where the integrands are smooth. Derivation:
docs/solver.md."""
from __future__ import annotations

import math

import torch

from .noise_scales import NoiseScale

GAUSS_NODES = 16
# widest panel in log lambda; 16 Gauss-Legendre nodes integrate the paper's noise
# scales to ~1e-15 relative over it
MAX_PANEL_WIDTH = 0.5


def _gauss_legendre(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights on [-1, 1] (Golub-Welsch), float64."""
    k = torch.arange(1, n, dtype=torch.float64)
    off = k / torch.sqrt(4 * k * k - 1)
    jacobi = torch.diag(off, 1) + torch.diag(off, -1)
    nodes, vectors = torch.linalg.eigh(jacobi)
    return nodes, 2 * vectors[0] ** 2


_GL_NODES, _GL_WEIGHTS = _gauss_legendre(GAUSS_NODES)


def _power_integrals(exponent: float, lam_s: torch.Tensor, lam_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed forms of S1, S2 for phi(x) = x^p, written with expm1 to stay exact near p = 1, 2."""
    log_ratio = torch.log(lam_s / lam_t)

    def integral_of_power(q: float) -> torch.Tensor:  # Int_{lt}^{ls} l^q dl
        k = q + 1.0
        if k == 0.0:
            return log_ratio.clone()
        return lam_t ** k * torch.expm1(k * log_ratio) / k

    s1 = integral_of_power(-exponent)
    s2 = integral_of_power(1.0 - exponent) - lam_s * s1
    return s1, s2


def quadrature_integrals(phi: NoiseScale, lam_s: torch.Tensor, lam_t: torch.Tensor,
                          moments: int = 2) -> tuple[torch.Tensor, ...]:
    """S1, S2 (and S_k = Int (l - lambda_s)^(k-1) / phi(l) dl up to k = moments) by composite
    Gauss-Legendre in u = log lambda, where the integrands are smooth."""
    u_s, u_t = torch.log(lam_s), torch.log(lam_t)
    width = u_s - u_t
    panels = max(1, math.ceil(float(width.max()) / MAX_PANEL_WIDTH)) if width.numel() else 1
    edges = torch.linspace(0.0, 1.0, panels + 1, dtype=torch.float64)
    # nodes on [0, 1]: panel p covers [edges[p], edges[p+1]]
    unit = ((edges[:-1, None] + edges[1:, None]) / 2 + (edges[1:, None] - edges[:-1, None]) / 2 * _GL_NODES).reshape(-1)
    unit_w = ((edges[1:, None] - edges[:-1, None]) / 2 * _GL_WEIGHTS).reshape(-1)
    u = u_t[:, None] + width[:, None] * unit
    lam = torch.exp(u)
    values = torch.as_tensor(phi(lam), dtype=torch.float64)
    if not torch.isfinite(values).all() or (values <= 0).any():
        raise ValueError("the noise scale is not finite and positive between the schedule's lambdas")
    jac = width[:, None] * unit_w * lam / values  # du weight * dl/du / phi
    s1 = jac.sum(dim=1)
    s2 = (jac * (lam - lam_s[:, None])).sum(dim=1)
    if moments > 2:
        return s1, s2, *((jac * (lam - lam_s[:, None]) ** (k - 1)).sum(dim=1) for k in range(3, moments + 1))
    return s1, s2


def step_integrals(phi: NoiseScale, lam_s: torch.Tensor, lam_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """S1 and S2 for each step (float64 tensors; lambdas > 0)."""
    exponent = getattr(phi, "exponent", None)
    if exponent is not None:
        return _power_integrals(float(exponent), lam_s, lam_t)
    return quadrature_integrals(phi, lam_s, lam_t)
