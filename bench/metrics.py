"""Distribution distances of the quality benchmark (numpy, float64)."""
from __future__ import annotations

import numpy as np


def gaussian_stats(x) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows are samples)."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """Squared 2-Wasserstein distance between N(mu1, cov1) and N(mu2, cov2) (the FID formula):
    |mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1^1/2 cov2 cov1^1/2)^1/2)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    root = _psd_sqrt(cov1)
    middle = np.linalg.eigvalsh(root @ cov2 @ root)
    trace_term = np.sqrt(np.clip(middle, 0, None)).sum()
    value = float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * trace_term)
    return max(value, 0.0)


def _quantiles(p: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles of every column (np.quantile's default), by one sort."""
    s = np.sort(p, axis=0)
    pos = levels * (s.shape[0] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, s.shape[0] - 1)
    frac = (pos - lo)[:, None]
    return s[lo] * (1 - frac) + s[hi] * frac


class SlicedW:
    """Sliced 2-Wasserstein distance to a fixed reference sample (its quantiles cached)."""

    def __init__(self, reference: np.ndarray, projections: int = 256, seed: int = 0, quantiles: int = 1000):
        rng = np.random.default_rng(seed)
        self.dirs = rng.standard_normal((reference.shape[1], projections))
        self.dirs /= np.linalg.norm(self.dirs, axis=0, keepdims=True)
        self.levels = (np.arange(quantiles) + 0.5) / quantiles
        self.ref = _quantiles(np.asarray(reference, np.float64) @ self.dirs, self.levels)

    def __call__(self, x: np.ndarray) -> float:
        q = _quantiles(np.asarray(x, np.float64) @ self.dirs, self.levels)
        return float(np.sqrt(((q - self.ref) ** 2).mean()))


def sliced_wasserstein(x, y, projections: int = 256, seed: int = 0, quantiles: int = 1000) -> float:
    """Sliced 2-Wasserstein distance: the root mean square, over `projections` fixed random
    directions, of the 1-D W2 distance between the projected samples (compared at
    `quantiles` evenly spaced levels, so x and y may have different sizes)."""
    return SlicedW(y, projections, seed, quantiles)(x)


def mean_spread(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def class_accuracy(logits, labels) -> float:
    """Share of samples a classifier puts in the class they were asked for."""
    import torch
    return float((torch.as_tensor(logits).argmax(1) == torch.as_tensor(labels)).double().mean())


def frechet_stats(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """frechet_distance between two (mean, covariance) pairs."""
    return frechet_distance(a[0], a[1], b[0], b[1])
