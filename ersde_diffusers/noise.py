"""Where the scheduler's per-step noise comes from, and with which seed.

"portable" (the default): the library's counter-based stream (k_diffusion_ext.NOISE_STREAM), item i
of a batch keyed by its own seed. A seed gives the same noise on every device, dtype and batch
size, drawn on the latent's device with no CPU draw and no copy, and the same noise as the
project's ComfyUI samplers for that seed. "generator": torch.randn through diffusers'
randn_tensor with the pipeline's generator, as diffusers' own SDE schedulers draw (same seed,
same image on one kind of device only). "brownian": the library's Brownian path on the same
stream (brownian_noise_sampler), a fixed function of sigma for a seed, so another step count
samples the same path (ComfyUI's "brownian" noise type of this project).

Seeds, in this order: the config's noise_seed (item i: noise_seed + i); the generator the
pipeline passes to step() (one generator: initial_seed() + i, as ComfyUI keys a batch; a list:
each item its own generator's initial_seed()); otherwise a hash of each item's starting latent,
so Flux and SD3 pipelines, which pass no generator to step(), still give the same image for the
same seed (their starting latent comes from the pipeline's generator) and never fall back to
torch's global generator silently.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import torch

from ._solver import solver

NoiseSampler = solver.noise.NoiseSampler

NOISE_SOURCES = ("portable", "brownian", "generator")
# elements of each item's starting latent that its fallback seed is hashed from: plenty to tell
# seeds apart, and one small copy to the CPU per run
HASHED_ELEMENTS = 1024

Generators = torch.Generator | Sequence[torch.Generator] | None


def latent_seeds(sample: torch.Tensor) -> list[int]:
    """One 63-bit seed per batch item from the bits of its first HASHED_ELEMENTS values (as float32)."""
    head = sample.detach().reshape(sample.shape[0], -1)[:, :HASHED_ELEMENTS].to("cpu", torch.float32).contiguous()
    return [int.from_bytes(hashlib.blake2b(row.numpy().tobytes(), digest_size=8).digest(), "little") >> 1
            for row in head]


def run_seeds(sample: torch.Tensor, noise_seed: int | None, generator: Generators) -> list[int]:
    """The seed of each batch item for one sampling run (see the module docstring)."""
    batch = sample.shape[0]
    if noise_seed is not None:
        return [noise_seed + i for i in range(batch)]
    if isinstance(generator, torch.Generator):
        return [generator.initial_seed() + i for i in range(batch)]
    if generator is not None:
        generators = list(generator)
        if len(generators) != batch:
            raise ValueError(f"got {len(generators)} generators for a batch of {batch}: pass one per image, or one")
        return [g.initial_seed() for g in generators]
    return latent_seeds(sample)


def library_noise(sample: torch.Tensor, seeds: list[int],
                  make: Callable[[torch.Tensor, int], NoiseSampler]) -> NoiseSampler:
    """A library noise sampler, make(latent, seed), with each item's seed, float32 on the sample's device."""
    # a zero-stride template: the samplers read shape, device and dtype from it, no memory held
    template = torch.empty((), dtype=torch.float32, device=sample.device).expand(sample.shape)
    if all(seed == seeds[0] + i for i, seed in enumerate(seeds)):
        return make(template, seeds[0])  # the library keys item i by seed + i: one batched sampler
    items = [make(template[i:i + 1], seed) for i, seed in enumerate(seeds)]
    return lambda sigma, sigma_next: torch.cat([item(sigma, sigma_next) for item in items])


def generator_noise(sample: torch.Tensor, seeds: list[int], generator: Generators) -> NoiseSampler:
    """torch.randn from the pipeline's generator(s), or from CPU generators seeded with `seeds`."""
    from diffusers.utils.torch_utils import randn_tensor

    if generator is None:
        generator = [torch.Generator("cpu").manual_seed(seed & (2 ** 64 - 1)) for seed in seeds]
    shape, device = sample.shape, sample.device

    def draw(sigma: float, sigma_next: float) -> torch.Tensor:
        return randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)

    return draw


def noise_for_run(source: str, sample: torch.Tensor, noise_seed: int | None, generator: Generators,
                  sigmas: torch.Tensor) -> NoiseSampler:
    """The run's noise sampler, k-diffusion's convention: noise(sigma, sigma_next) -> unit Gaussian latent,
    called with the run's `sigmas` (float64: the Brownian path spans them exactly)."""
    seeds = run_seeds(sample, noise_seed, generator)
    if source == "generator":
        return generator_noise(sample, seeds, None if noise_seed is not None else generator)
    low, high = solver.schedule_range(sigmas)
    if source == "brownian" and 0.0 < low < high:
        return library_noise(sample, seeds, lambda x, seed: solver.brownian_noise_sampler(x, low, high, seed))
    # "portable", and "brownian" without a step between two positive sigmas (then nothing is drawn)
    return library_noise(sample, seeds, solver.per_item_noise_sampler)
