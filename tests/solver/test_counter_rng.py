"""The counter-based noise stream (k_diffusion_ext.counter_rng, NOISE_STREAM "ersde-noise/1"):
exact SplitMix64 integers, accurate Gaussians, independence, batch invariance, device agreement,
and clear errors for bad keys."""
import math

import pytest
import torch
from scipy import stats

from k_diffusion_ext import gaussian_noise, per_item_noise_sampler
from k_diffusion_ext.counter_rng import (MASK64, UNIFORM_SCALE, gaussian_block, item_keys, reference_gaussian,
                                         reference_gaussians, reference_words, splitmix64_words, word_offsets)


def signed(key: int) -> int:
    return key - (1 << 64) if key >= 1 << 63 else key


def unsigned(values: torch.Tensor) -> list[int]:
    return [v & MASK64 for v in values.flatten().tolist()]


def test_splitmix64_matches_the_published_test_vector():
    # Vigna's reference splitmix64.c seeded with 1234567
    assert reference_words(1234567, 3) == [6457827717110365317, 3203168211198807973, 9817491932198370423]


@pytest.mark.parametrize("key", [0, 1, 1234567, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1, 0x9E3779B97F4A7C15])
def test_integer_stream_is_bit_identical_to_the_python_reference(key):
    words = splitmix64_words(torch.tensor([[signed(key)]], dtype=torch.int64), word_offsets(513))
    assert unsigned(words) == reference_words(key, 513)


def test_gaussians_match_the_float64_reference_within_float32_rounding():
    key = 0x0123456789ABCDEF
    got = gaussian_block(torch.tensor([[signed(key)]]), word_offsets(1000), 1999, torch.float32).flatten().double()
    want = torch.tensor(reference_gaussians(key, 1999), dtype=torch.float64)
    assert (got - want).abs().max().item() < 1e-6


def test_transform_error_bound_over_the_whole_input_range():
    """Measured bound of the float32 transform against float64, tails included (README: 4.2e-7)."""
    halves = torch.cat([torch.arange(-2 ** 31, 2 ** 31, 2 ** 13, dtype=torch.int64),
                        torch.arange(-2 ** 31, -2 ** 31 + 2000), torch.arange(2 ** 31 - 2000, 2 ** 31)])
    g32 = halves.to(torch.int32).to(torch.float32).mul_(UNIFORM_SCALE).erfinv_().mul_(math.sqrt(2.0)).double()
    sample = torch.randperm(len(halves), generator=torch.Generator().manual_seed(0))[:4000]
    want = torch.tensor([reference_gaussian(int(h)) for h in halves[sample]], dtype=torch.float64)
    assert (g32[sample] - want).abs().max().item() < 5e-7
    assert torch.isfinite(g32).all() and g32.abs().max().item() < 5.43  # never +-1 into erfinv


def test_gaussians_have_unit_moments_and_pass_a_ks_test():
    g = gaussian_noise(torch.zeros(1, 1_000_000), seed=42, draw=0).flatten().double().numpy()
    assert abs(g.mean()) < 0.004 and abs(g.std() - 1) < 0.003
    assert abs(stats.skew(g)) < 0.01 and abs(stats.kurtosis(g)) < 0.02
    assert stats.kstest(g, "norm").pvalue > 1e-3


def test_no_correlation_across_items_draws_and_neighbouring_elements():
    x = torch.zeros(4, 250_000)
    a, b = gaussian_noise(x, 7, 0), gaussian_noise(x, 7, 1)
    rows = torch.cat([a, b]).double()
    corr = torch.corrcoef(rows)
    off_diagonal = corr - torch.eye(8, dtype=torch.float64)
    assert off_diagonal.abs().max().item() < 0.012  # 8 streams: 4 items x 2 draws
    flat = a[0].double()
    for lag in (1, 2, 3, 64):  # 1: the two halves of one word
        r = torch.corrcoef(torch.stack([flat[:-lag], flat[lag:]]))[0, 1].item()
        assert abs(r) < 0.012, f"lag {lag}: {r}"
    squares = flat ** 2  # dependence that a plain correlation misses (Box-Muller-like pairs)
    assert abs(torch.corrcoef(torch.stack([squares[0::2], squares[1::2]]))[0, 1].item()) < 0.012


def test_neighbouring_seeds_and_draws_are_unrelated():
    base = gaussian_noise(torch.zeros(1, 100_000), 1000, 0).flatten().double()
    for other in (gaussian_noise(torch.zeros(1, 100_000), 1001, 0), gaussian_noise(torch.zeros(1, 100_000), 1000, 1)):
        assert abs(torch.corrcoef(torch.stack([base, other.flatten().double()]))[0, 1].item()) < 0.015


def test_batch_item_i_is_a_batch_of_one_with_seed_plus_i():
    x = torch.zeros(5, 4, 8, 8)
    batch = gaussian_noise(x, 2 ** 40 + 3, 9)
    for i in range(5):
        assert torch.equal(batch[i:i + 1], gaussian_noise(x[:1], 2 ** 40 + 3 + i, 9))


def test_a_draw_is_a_pure_function_of_seed_item_and_draw_index():
    sampler = per_item_noise_sampler(torch.zeros(2, 3, 16, 16), seed=11)
    draws = [sampler(1.0, 0.5) for _ in range(4)]
    assert torch.equal(draws[3], gaussian_noise(torch.zeros(2, 3, 16, 16), 11, 3))  # no earlier draw needed
    assert not torch.equal(draws[0], draws[1])


def test_half_precision_latents_get_the_float32_values_rounded():
    x = torch.zeros(2, 3, 8, 8)
    full = gaussian_noise(x, 5, 0)
    assert torch.equal(gaussian_noise(x.bfloat16(), 5, 0), full.bfloat16())
    assert torch.equal(gaussian_noise(x.half(), 5, 0), full.half())
    assert torch.equal(gaussian_noise(x.double(), 5, 0), full.double())


def test_odd_element_counts_use_the_first_halves():
    odd = gaussian_noise(torch.zeros(2, 3, 5, 7), 3, 2)
    even = gaussian_noise(torch.zeros(2, 106), 3, 2)
    assert torch.equal(odd.flatten(1), even[:, :105])


@pytest.mark.parametrize("seed, same_as", [(-1, 2 ** 64 - 1), (2 ** 64 + 5, 5), (2 ** 70, 0)])
def test_negative_and_huge_seeds_wrap_modulo_two_to_the_64(seed, same_as):
    x = torch.zeros(2, 64)
    assert torch.equal(gaussian_noise(x, seed, 0), gaussian_noise(x, same_as, 0))


@pytest.mark.parametrize("seed", [1.5, "12", None, float("nan")])
def test_a_seed_that_is_not_an_integer_is_refused(seed):
    with pytest.raises((ValueError, TypeError), match="seed"):
        item_keys(seed, 1)


def test_an_empty_batch_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="at least one batch item"):
        per_item_noise_sampler(torch.zeros(0, 4, 8, 8), seed=1)


def test_a_negative_draw_index_is_refused():
    with pytest.raises(ValueError, match="draw index"):
        gaussian_noise(torch.zeros(1, 8), 1, -1)


def test_noise_draw_op_count_does_not_grow_with_the_batch():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    counts = {}
    for batch in (1, 8):
        sampler = per_item_noise_sampler(torch.zeros(batch, 4, 32, 32, dtype=torch.bfloat16), seed=1)
        with Count() as mode:
            sampler(1.0, 0.5)
        counts[batch] = mode.ops
        assert not any("_local_scalar_dense" in op for op in mode.ops), "a draw synchronises with .item()"
    assert counts[1] == counts[8]
    assert len(counts[1]) <= 22, counts[1]  # with a step's ~7 ops: within 30 a step


def other_devices():
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


@pytest.mark.parametrize("device", other_devices() or [pytest.param("cuda", marks=pytest.mark.skip(
    reason="no CUDA or MPS device here: CPU-vs-device agreement needs one"))])
def test_another_device_draws_the_same_integers_and_gaussians_within_rounding(device):
    keys = item_keys(99, 3)
    offsets = word_offsets(4096)
    cpu_words = splitmix64_words(keys, offsets)
    dev_words = splitmix64_words(keys.to(device), offsets.to(device)).cpu()
    assert torch.equal(cpu_words, dev_words)
    x = torch.zeros(3, 4, 64, 64)
    cpu = gaussian_noise(x, 99, 4)
    dev = gaussian_noise(x.to(device), 99, 4).cpu()
    assert (cpu - dev).abs().max().item() < 2e-6

