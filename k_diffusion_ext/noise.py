"""Noise samplers with the k-diffusion convention: noise_sampler(sigma, sigma_next) -> unit Gaussian like x.

Both are built on the counter-based stream of counter_rng (NOISE_STREAM) and computed on the
latent's device with a fixed handful of torch ops: no CPU draw, no host-device copy, no loop
over batch items, no `.item()`. Batch item i draws from keys made of seed + i, so item i of a
batch is the same as a run of that item alone with seed + i, on every device and batch size.
"""
from __future__ import annotations

import math
import struct
from typing import Callable, Sequence

import torch

from .counter_rng import (BROWNIAN_LEAF_DOMAIN, BROWNIAN_NODE_DOMAIN, MASK64, _signed, draw_key, gaussian_block,
                          item_keys, mix64)

NoiseSampler = Callable[[torch.Tensor | float, torch.Tensor | float], torch.Tensor]

# Brownian cells are refined until they are this narrow in log sigma: only two sigmas of one
# schedule closer than 0.4 % (a Karras schedule of ~2500 steps from 80 to 0.002) would share a cell
BROWNIAN_LOG_RESOLUTION = 2.0 ** -8


def _resolve_seed(seed: int | None) -> int:
    if seed is None:
        # follow torch.manual_seed, as torch.randn_like would
        return int(torch.randint(0, 2 ** 62, (), device="cpu"))
    return seed


def _item_count(x: torch.Tensor) -> tuple[int, int]:
    if x.dim() < 1 or x.shape[0] < 1:
        raise ValueError(f"noise needs a latent with at least one batch item, got shape {tuple(x.shape)}")
    return x.shape[0], math.prod(x.shape[1:])


def _draw(keys: torch.Tensor, draw: int, shape: torch.Size, dtype: torch.dtype) -> torch.Tensor:
    return gaussian_block(torch.bitwise_xor(keys, draw_key(draw)), math.prod(shape[1:]), dtype).view(shape)


def gaussian_noise(x: torch.Tensor, seed: int, draw: int) -> torch.Tensor:
    """The `draw`-th unit Gaussian latent of a run with `seed`: a pure function of (seed, item, draw),
    shaped like x, on x's device, in x's dtype."""
    batch, _ = _item_count(x)
    return _draw(item_keys(seed, batch, x.device), draw, x.shape, x.dtype)


def per_item_noise_sampler(x: torch.Tensor, seed: int | None = None) -> NoiseSampler:
    """Independent Gaussian noise per call: call n returns gaussian_noise(x, seed, n).

    Without a seed, one is taken from torch's global generator (torch.manual_seed decides)."""
    batch, _ = _item_count(x)
    keys = item_keys(_resolve_seed(seed), batch, x.device)
    shape, dtype = x.shape, x.dtype
    draws = iter(range(1 << 62))

    def sample(sigma: torch.Tensor | float, sigma_next: torch.Tensor | float) -> torch.Tensor:
        return _draw(keys, next(draws), shape, dtype)

    return sample


def _float_bits(t: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", t))[0]


def brownian_noise_sampler(x: torch.Tensor, sigma_min: float, sigma_max: float,
                           seed: int | None = None) -> NoiseSampler:
    """Noise from one Brownian path W per batch item, a fixed function of sigma for a seed.

    noise_sampler(s, t) = (W(max(s, t)) - W(min(s, t))) / sqrt(|t - s|): a unit Gaussian;
    increments over disjoint intervals are independent, and the path does not depend on
    which other sigmas are visited, so another step count keeps the same path.

    W on [sigma_min, sigma_max] is built by Brownian bridges on a dyadic tree in log sigma:
    W(sigma_min) = 0, W(sigma_max) = sqrt(sigma_max - sigma_min) Z_0, and for the cell [a, b]
    of tree node n with midpoint m = sqrt(a b),

        W(m) = W(a) + (m - a) / (b - a) (W(b) - W(a)) + sqrt((m - a)(b - m) / (b - a)) Z_n,

    which is exactly the law of a Brownian motion at m given W(a), W(b). A query point t
    descends to a cell narrower than BROWNIAN_LOG_RESOLUTION in log sigma and takes the same
    bridge inside it with Z keyed by t's float64 bits. Every Z is a unit Gaussian latent of
    the counter-based stream, keyed by (seed + item, node), so no tree is stored: the nodes
    on the last query's path are kept (12 for an 80..0.002 schedule, plus W at the ends and at the
    last two query points), and a step draws only the nodes below where its path leaves the
    previous one (about 8 latents a step for a 20-step Karras schedule).
    """
    t0, t1 = float(sigma_min), float(sigma_max)
    if not (math.isfinite(t0) and math.isfinite(t1) and 0 < t0 < t1):
        raise ValueError(f"a Brownian noise sampler needs 0 < sigma_min < sigma_max, got {t0} and {t1}")
    batch, count = _item_count(x)
    keys = item_keys(_resolve_seed(seed), batch, x.device)
    depth = max(1, math.ceil(math.log2(math.log(t1 / t0) / BROWNIAN_LOG_RESOLUTION)))
    known: dict[int, torch.Tensor] = {}  # node -> W at its midpoint (node 0: W(t1))
    points: dict[float, torch.Tensor] = {t0: torch.zeros(batch, count, device=x.device)}

    def draw(node_key: int) -> torch.Tensor:
        # one node at a time: a batched draw of a path's nodes would hold three buffers per node at its peak
        return gaussian_block(torch.bitwise_xor(keys, node_key), count, torch.float32)

    def node_part(node: int) -> int:
        return _signed(mix64((node ^ BROWNIAN_NODE_DOMAIN) & MASK64))

    def path(t: float) -> tuple[list[tuple[int, float, float, float]], tuple[int, float, float]]:
        """The nodes (id, a, m, b) whose midpoints W(t) needs, and t's last cell (id, a, b)."""
        nodes, a, b, node = [], t0, t1, 1
        for _ in range(depth):
            m = math.sqrt(a * b)
            nodes.append((node, a, m, b))
            if t == m:
                break
            a, b, node = (a, m, 2 * node) if t < m else (m, b, 2 * node + 1)
        return nodes, (node, a, b)

    def bridge(w_a: torch.Tensor, w_b: torch.Tensor, a: float, t: float, b: float, z: torch.Tensor) -> torch.Tensor:
        return torch.lerp(w_a, w_b, (t - a) / (b - a)).add_(z, alpha=math.sqrt((t - a) * (b - t) / (b - a)))

    def w_end() -> torch.Tensor:
        if 0 not in known:
            known[0] = draw(node_part(0)).mul_(math.sqrt(t1 - t0))
        return known[0]

    def w_at(t: float) -> torch.Tensor:
        if t in points:
            return points[t]
        if t == t1:
            return w_end()
        nodes, (cell, a_leaf, b_leaf) = path(t)
        on_path = {0} | {n for n, *_ in nodes}
        for node in [n for n in known if n not in on_path]:  # before drawing: the peak holds one path
            del known[node]
        values = {t0: points[t0], t1: w_end()}
        for node, a, m, b in nodes:
            if node not in known:
                known[node] = bridge(values[a], values[b], a, m, b, draw(node_part(node)))
            values[m] = known[node]
        if t in values:
            return values[t]
        leaf = _signed(mix64(mix64((cell ^ BROWNIAN_LEAF_DOMAIN) & MASK64) ^ _float_bits(t)))
        return bridge(values[a_leaf], values[b_leaf], a_leaf, t, b_leaf, draw(leaf))

    def sample(sigma: torch.Tensor | float, sigma_next: torch.Tensor | float) -> torch.Tensor:
        lo, hi = sorted((min(max(float(sigma), t0), t1), min(max(float(sigma_next), t0), t1)))
        if not hi > lo:
            return torch.zeros_like(x)
        w_lo, w_hi = w_at(lo), w_at(hi)
        # the next step starts where this one ends: keep its two points (and the last path's nodes)
        for t in [t for t in points if t != t0]:
            del points[t]
        points[lo], points[hi] = w_lo, w_hi
        noise = torch.sub(w_hi, w_lo).mul_(1.0 / math.sqrt(hi - lo))
        return noise.view(x.shape).to(x.dtype)

    return sample


def schedule_range(sigmas: Sequence[float] | torch.Tensor) -> tuple[float, float]:
    """(smallest positive sigma, largest sigma) of a schedule: the interval a Brownian path must cover."""
    values = [float(s) for s in torch.as_tensor(sigmas).flatten().tolist()]
    positive = [s for s in values if s > 0]
    return (min(positive) if positive else 0.0), max(values)
