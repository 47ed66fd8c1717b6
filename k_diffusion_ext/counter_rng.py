"""A counter-based Gaussian generator computed with torch ops on the latent's device.

Stream "ersde-noise/1" (NOISE_STREAM), fixed from 0.2.0 on:

1. Integers: SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
   OOPSLA 2014) in counter mode. A stream is named by a 64-bit key K; its word j (j = 0, 1, ...)
   is the (j + 1)-th output of a SplitMix64 generator whose state starts at K:

       z = K + (j + 1) * 0x9E3779B97F4A7C15                    (mod 2^64)
       z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9                 (mod 2^64)
       z = (z ^ (z >> 27)) * 0x94D049BB133111EB                 (mod 2^64)
       word_j = z ^ (z >> 31)

   Word j depends on (K, j) alone: no state, no earlier draw, no loop. The integers are the same
   bits on every device (int64 ops wrap modulo 2^64 on CPU, CUDA and MPS; shifts are made logical
   with a mask).
2. Uniforms: word j gives elements 2j (its low 32 bits) and 2j + 1 (its high 32 bits). Each 32-bit
   half h, read as a signed integer, becomes v = fl32(fl32(h) * (1 - 2^-24) / 2^31), with fl32
   IEEE round-to-nearest-even (the same on every device): a uniform in [-1 + 2^-24, 1 - 2^-24],
   never +-1.
3. Gaussians: g = sqrt(2) erfinv(v), in float32, then cast to the latent's dtype (so a bfloat16 or
   float16 latent gets the float32 values rounded). |g| <= 5.42. The integers are exact everywhere;
   erfinv's float32 rounding may differ between devices by a few ulps (tests/solver/test_counter_rng
   measures the CPU's error against float64).

Keys: `mix64(k)` is SplitMix64's first output from state k. The noise of batch item i for seed s
at draw n has the key item_key ^ draw_key with item_key = mix64(s + i) and
draw_key = mix64(n ^ GAUSSIAN_DOMAIN): item i of a batch is a batch of one with seed s + i, and
a step's draw is never the host's starting noise (hosts draw that from torch's own generators,
another algorithm altogether).
"""
from __future__ import annotations

import functools
import math
import struct

import torch

NOISE_STREAM = "ersde-noise/1 (SplitMix64 counter mode, 32-bit halves, sqrt(2) erfinv in float32)"

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
MIX_1 = 0xBF58476D1CE4E5B9
MIX_2 = 0x94D049BB133111EB
# domains keep the key families of the two noise types apart
GAUSSIAN_DOMAIN = 0x6A09E667F3BCC908
BROWNIAN_NODE_DOMAIN = 0xBB67AE8584CAA73B
BROWNIAN_LEAF_DOMAIN = 0x3C6EF372FE94F82B

# fl32(h) is at most 2^31 in magnitude: this scale keeps v inside (-1, 1), where erfinv is finite
UNIFORM_SCALE = (1.0 - 2.0 ** -24) * 2.0 ** -31
_LOW_MASKS = {30: (1 << 34) - 1, 27: (1 << 37) - 1, 31: (1 << 33) - 1}


def mix64(key: int) -> int:
    """SplitMix64's first output from state `key` (plain Python, the reference of the integer stream)."""
    z = (key + GOLDEN_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * MIX_1) & MASK64
    z = ((z ^ (z >> 27)) * MIX_2) & MASK64
    return z ^ (z >> 31)


def _signed(value: int) -> int:
    """The int64 that holds the same 64 bits as an unsigned value."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def check_seed(seed: int) -> int:
    """Seeds are integers; negative ones and ones past 2^64 wrap modulo 2^64, as in ComfyUI's seed widget."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            as_int = int(seed)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"a noise seed must be an integer, got {seed!r}") from None
        if as_int != seed:
            raise ValueError(f"a noise seed must be an integer, got {seed!r}")
        seed = as_int
    return seed & MASK64


def item_keys(seed: int, batch: int, device: torch.device | str | None = None) -> torch.Tensor:
    """mix64(seed + i) for each batch item i, as int64 of shape (batch, 1) on `device`."""
    if batch < 1:
        raise ValueError(f"a noise stream needs at least one batch item, got batch size {batch}")
    seed = check_seed(seed)
    # batch items are few; the keys are computed once per sampling run, not per step
    keys = [_signed(mix64((seed + i) & MASK64)) for i in range(batch)]
    return torch.tensor(keys, dtype=torch.int64, device=device).unsqueeze(1)


def draw_key(draw: int) -> int:
    """The signed 64-bit key part of the n-th Gaussian draw of a run."""
    if draw < 0:
        raise ValueError(f"draw index must be >= 0, got {draw}")
    return _signed(mix64((draw ^ GAUSSIAN_DOMAIN) & MASK64))


def word_offsets(words: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(j + 1) * golden gamma mod 2^64 for j < words: the counter part of SplitMix64's state.

    As big as a float32 latent: made for each draw rather than held through the model call."""
    j = torch.arange(1, words + 1, dtype=torch.int64, device=device)
    return j.mul_(_gamma(j.device))


@functools.lru_cache(maxsize=None)
def _gamma(device: torch.device) -> torch.Tensor:
    return torch.tensor(_signed(GOLDEN_GAMMA), dtype=torch.int64, device=device)


@functools.lru_cache(maxsize=None)
def _rounds(device: torch.device) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None], ...]:
    """SplitMix64's (shift, mask, multiplier) rounds as 0-d int64 tensors: torch's CPU kernels for
    int64 shifts and multiplies with a Python number are ~10x slower than with a 0-d tensor."""
    def const(value: int) -> torch.Tensor:
        return torch.tensor(value, dtype=torch.int64, device=device)
    return tuple((const(shift), const(_LOW_MASKS[shift]), None if mult is None else const(_signed(mult)))
                 for shift, mult in ((30, MIX_1), (27, MIX_2), (31, None)))


def splitmix64_words(keys: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """SplitMix64 outputs for states keys + offsets (broadcast), as int64 holding the unsigned bits."""
    z = torch.add(keys, offsets)
    for shift, mask, multiplier in _rounds(z.device):
        z.bitwise_xor_(torch.bitwise_right_shift(z, shift).bitwise_and_(mask))
        if multiplier is not None:
            z.mul_(multiplier)
    return z


def gaussians_from_words(words: torch.Tensor, count: int, dtype: torch.dtype) -> torch.Tensor:
    """Unit Gaussians from SplitMix64 words (..., W): 2W values (low half first), the first `count` kept."""
    halves = words.view(torch.int32)  # little-endian: low 32 bits first, on every device torch runs on
    g = halves.to(torch.float32).mul_(UNIFORM_SCALE).erfinv_().mul_(math.sqrt(2.0))
    if g.shape[-1] != count:
        g = g[..., :count]
    return g if dtype == torch.float32 else g.to(dtype)


def gaussian_block(keys: torch.Tensor, count: int, dtype: torch.dtype) -> torch.Tensor:
    """`count` unit Gaussians per key of `keys` (..., 1); at most two buffers the size of the float32
    result are alive at once (the words and a shifted copy, or the words and the result)."""
    words = splitmix64_words(keys, word_offsets((count + 1) // 2, keys.device))
    return gaussians_from_words(words, count, dtype)


def reference_words(key: int, count: int) -> list[int]:
    """Plain-Python reference of the integer stream: the first `count` words of key `key` (unsigned)."""
    return [mix64((key + j * GOLDEN_GAMMA) & MASK64) for j in range(count)]


def reference_gaussians(key: int, count: int) -> list[float]:
    """Plain-Python (float64) reference of the Gaussians: the exact values the float32 ones round."""
    out: list[float] = []
    for word in reference_words(key, (count + 1) // 2):
        for half in (word & 0xFFFFFFFF, word >> 32):
            out.append(reference_gaussian(half - (1 << 32) if half >= 1 << 31 else half))
    return out[:count]


def _fl32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def reference_uniform(half: int) -> float:
    """v for a signed 32-bit half, in plain Python (the float32 products are exact in float64)."""
    return _fl32(_fl32(float(half)) * UNIFORM_SCALE)


def reference_gaussian(half: int) -> float:
    """sqrt(2) erfinv(v) in float64 for a signed 32-bit half: the value the float32 transform rounds."""
    from statistics import NormalDist
    return NormalDist().inv_cdf((reference_uniform(half) + 1.0) / 2.0)
