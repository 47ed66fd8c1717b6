"""Noise samplers with the k-diffusion convention: noise_sampler(sigma, sigma_next) -> unit Gaussian like x.

Both samplers give each batch item its own random stream, keyed by seed + index, so
item i of a batch is the same as a run of that item alone with seed + i, whatever the
batch size, device or run. The key is hashed before it seeds a generator: hosts draw
their starting noise from a generator seeded with the plain seed (ComfyUI's
prepare_noise does), and a step's noise equal to the starting noise would add 30-40 %
too much noise to a batch of one.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

NoiseSampler = Callable[[torch.Tensor | float, torch.Tensor | float], torch.Tensor]


_MASK64 = 2 ** 64 - 1


def _splitmix64(key: int) -> int:
    """A fixed 64-bit mix (SplitMix64's finaliser): nearby keys give unrelated seeds."""
    z = (key + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _item_seeds(seed: int | None, batch: int) -> list[int]:
    if seed is None:
        # follow torch.manual_seed, as torch.randn_like would
        seed = int(torch.randint(0, 2 ** 62, (), device="cpu"))
    # torch generators take seeds below 2**63 here
    return [_splitmix64((int(seed) + i) & _MASK64) >> 1 for i in range(batch)]


def per_item_noise_sampler(x: torch.Tensor, seed: int | None = None) -> NoiseSampler:
    """Independent Gaussian noise per step, drawn per batch item from a CPU generator keyed by seed + index.

    Drawing on the CPU makes the noise the same on every device; drawing in float32 makes
    it the same for every latent dtype."""
    generators = []
    for s in _item_seeds(seed, x.shape[0]):
        g = torch.Generator(device="cpu")
        g.manual_seed(s)
        generators.append(g)
    item_shape = tuple(x.shape[1:])
    # torch draws half-precision normals as float32 ones rounded: drawing them directly
    # keeps the noise the same for every latent dtype without a float32 buffer
    direct = x.dtype in (torch.float32, torch.float16, torch.bfloat16)

    def sample(sigma: torch.Tensor | float, sigma_next: torch.Tensor | float) -> torch.Tensor:
        noise = torch.empty((len(generators),) + item_shape, dtype=x.dtype)
        for row, g in zip(noise, generators):  # drawn row by row in place: no stacking copy
            if direct:
                torch.randn(item_shape, generator=g, out=row)
            else:
                row.copy_(torch.randn(item_shape, generator=g, dtype=torch.float32))
        return noise.to(device=x.device, non_blocking=True)

    return sample


def brownian_noise_sampler(x: torch.Tensor, sigma_min: float, sigma_max: float,
                           seed: int | None = None) -> NoiseSampler:
    """Noise from one Brownian path per batch item (torchsde.BrownianTree), indexed by sigma.

    The increment between two sigmas does not depend on which other sigmas were visited,
    so changing the step count keeps the same path: the 20-step and the 40-step images of
    one seed stay close. Needs torchsde (pip install torchsde)."""
    try:
        import torchsde
    except ImportError as exc:
        raise ImportError("Brownian noise needs torchsde: pip install torchsde") from exc
    t0, t1 = float(sigma_min), float(sigma_max)
    if not t0 < t1:
        raise ValueError(f"a Brownian noise sampler needs sigma_min < sigma_max, got {t0} and {t1}")
    w0 = torch.zeros(tuple(x.shape[1:]), dtype=torch.float32)
    # torchsde rounds its end points to its tolerance: a little margin keeps every query inside
    margin = 1e-5
    trees = [torchsde.BrownianTree(max(t0 - margin, 0.0), w0, t1 + margin, entropy=s, tol=1e-6)
             for s in _item_seeds(seed, x.shape[0])]

    def sample(sigma: torch.Tensor | float, sigma_next: torch.Tensor | float) -> torch.Tensor:
        a, b = sorted((float(sigma), float(sigma_next)))
        a, b = max(a, t0), min(b, t1)
        if not b > a:
            return torch.zeros_like(x)
        w = torch.stack([tree(a, b) for tree in trees]) / (b - a) ** 0.5
        return w.to(device=x.device, dtype=x.dtype, non_blocking=True)

    return sample


def schedule_range(sigmas: Sequence[float] | torch.Tensor) -> tuple[float, float]:
    """(smallest positive sigma, largest sigma) of a schedule: the interval a Brownian tree must cover."""
    values = [float(s) for s in torch.as_tensor(sigmas).flatten().tolist()]
    positive = [s for s in values if s > 0]
    return (min(positive) if positive else 0.0), max(values)
