"""Seeds: same seed same image, batch item i = the same item run alone with seed + i,
and Brownian noise that stays on one path when the step count changes."""
import pytest
import torch

from k_diffusion_ext import brownian_noise_sampler, per_item_noise_sampler, sample_er_sde, schedule_range
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture

model = mixture_denoiser(ring_mixture(8, 4.0), 0.3)


def start(batch, seed=0):
    return torch.randn(batch, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 80


def test_same_seed_gives_the_same_sample():
    a = sample_er_sde(model, start(4), karras_sigmas(10), extra_args={"seed": 7}, disable=True)
    b = sample_er_sde(model, start(4), karras_sigmas(10), extra_args={"seed": 7}, disable=True)
    c = sample_er_sde(model, start(4), karras_sigmas(10), extra_args={"seed": 8}, disable=True)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_batch_item_equals_the_item_alone_with_seed_plus_index():
    x = start(4)
    batch = sample_er_sde(model, x, karras_sigmas(10), extra_args={"seed": 100}, disable=True)
    for i in range(4):
        alone = sample_er_sde(model, x[i:i + 1], karras_sigmas(10), extra_args={"seed": 100 + i}, disable=True)
        torch.testing.assert_close(batch[i:i + 1], alone, rtol=0, atol=1e-12)


def test_without_seed_torch_manual_seed_decides():
    torch.manual_seed(1)
    a = sample_er_sde(model, start(2), karras_sigmas(8), disable=True)
    torch.manual_seed(1)
    b = sample_er_sde(model, start(2), karras_sigmas(8), disable=True)
    torch.manual_seed(2)
    c = sample_er_sde(model, start(2), karras_sigmas(8), disable=True)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_per_item_noise_is_unit_gaussian_and_independent_between_calls():
    sampler = per_item_noise_sampler(torch.zeros(2, 200_000), seed=3)
    first, second = sampler(1.0, 0.5), sampler(0.5, 0.2)
    assert abs(first.mean().item()) < 0.01 and abs(first.std().item() - 1) < 0.01
    assert abs(torch.corrcoef(torch.stack([first.flatten(), second.flatten()]))[0, 1].item()) < 0.01
    assert abs(torch.corrcoef(first)[0, 1].item()) < 0.01  # batch items are independent streams


def test_brownian_noise_is_unit_gaussian_and_batch_invariant():
    x = torch.zeros(3, 4, 8, 8)
    sampler = brownian_noise_sampler(x, 0.1, 10.0, seed=5)
    noise = sampler(torch.tensor(10.0, dtype=torch.float64), torch.tensor(5.0, dtype=torch.float64))
    assert noise.shape == x.shape and noise.dtype == x.dtype
    alone = brownian_noise_sampler(x[1:2], 0.1, 10.0, seed=6)(10.0, 5.0)
    torch.testing.assert_close(noise[1:2], alone)
    big = brownian_noise_sampler(torch.zeros(1, 100_000), 0.1, 10.0, seed=1)(3.0, 2.0)
    assert abs(big.mean().item()) < 0.02 and abs(big.std().item() - 1) < 0.02


def test_brownian_increments_add_up_along_one_path():
    """W(10) - W(2) = (W(10) - W(5)) + (W(5) - W(2)): two half steps lie on the one-step path."""
    x = torch.zeros(1, 1000)
    sampler = brownian_noise_sampler(x, 0.1, 10.0, seed=9)
    whole = sampler(10.0, 2.0) * (8.0 ** 0.5)
    parts = sampler(10.0, 5.0) * (5.0 ** 0.5) + sampler(5.0, 2.0) * (3.0 ** 0.5)
    torch.testing.assert_close(whole, parts, rtol=0, atol=2e-5)  # float32 rounding only


def test_brownian_noise_keeps_results_close_when_the_step_count_doubles():
    """The point of Brownian noise: 20 and 40 steps of one seed land near each other;
    independent per-step noise does not."""
    x = start(32, seed=4)

    def run(steps, brownian):
        sigmas = karras_sigmas(steps)
        sampler = brownian_noise_sampler(x, *schedule_range(sigmas), seed=11) if brownian else None
        return sample_er_sde(model, x, sigmas, noise_sampler=sampler, extra_args={"seed": 11}, disable=True,
                             noise_scale="reverse_sde")

    brownian_gap = (run(20, True) - run(40, True)).norm(dim=1).mean()
    independent_gap = (run(20, False) - run(40, False)).norm(dim=1).mean()
    assert brownian_gap < 0.5 * independent_gap, (brownian_gap, independent_gap)


def test_brownian_queries_at_and_beyond_the_schedule_ends_are_clamped():
    sigmas = torch.tensor([14.614643096923828, 5.0, 0.0291675, 0.0], dtype=torch.float32)
    sampler = brownian_noise_sampler(torch.zeros(1, 4, 8, 8), *schedule_range(sigmas), seed=1)
    assert torch.isfinite(sampler(sigmas[0].double(), sigmas[1].double())).all()
    assert torch.isfinite(sampler(sigmas[1].double(), sigmas[2].double())).all()
    assert torch.equal(sampler(20.0, 30.0), torch.zeros(1, 4, 8, 8))  # wholly outside: no increment


def test_brownian_increments_have_the_variance_of_their_interval_and_are_independent():
    """Var(W(t) - W(s)) = t - s for long and very short intervals, and disjoint increments are
    uncorrelated: the noise of a 30-step Karras schedule is 29 independent unit Gaussians."""
    sigmas = karras_sigmas(30, 0.03, 14.6)[:-1].tolist()
    sampler = brownian_noise_sampler(torch.zeros(1, 200_000), sigmas[-1], sigmas[0], seed=21)
    draws = torch.stack([sampler(a, b).flatten().double() for a, b in zip(sigmas, sigmas[1:])])
    assert (draws.mean(1).abs() < 0.01).all()
    assert ((draws.var(1) - 1).abs() < 0.015).all(), draws.var(1)
    corr = torch.corrcoef(draws) - torch.eye(len(draws), dtype=torch.float64)
    assert corr.abs().max().item() < 0.015


def test_brownian_path_is_a_fixed_function_of_sigma_whatever_else_is_visited():
    """W(5) - W(1) is the same whether a run steps 10 -> 5 -> 1 or 10 -> 7 -> 5 -> 3 -> 2 -> 1."""
    x = torch.zeros(2, 3, 16, 16)
    coarse = brownian_noise_sampler(x, 0.5, 10.0, seed=4)
    fine = brownian_noise_sampler(x, 0.5, 10.0, seed=4)
    coarse(10.0, 5.0)
    want = coarse(5.0, 1.0) * 2.0
    fine(10.0, 7.0)
    fine(7.0, 5.0)
    got = sum(fine(a, b) * (a - b) ** 0.5 for a, b in ((5.0, 3.0), (3.0, 2.0), (2.0, 1.0)))
    torch.testing.assert_close(got, want, rtol=0, atol=2e-5)


def test_brownian_sampler_refuses_a_range_without_positive_width():
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        brownian_noise_sampler(torch.zeros(1, 4), 0.0, 10.0, seed=1)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        brownian_noise_sampler(torch.zeros(1, 4), 3.0, 3.0, seed=1)


def _devices() -> list[str]:
    """The CPU and every accelerator torch sees here (CI has none; a GPU machine runs them all)."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + \
        (["mps"] if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available() else [])


@pytest.mark.parametrize("device", _devices())
def test_step_noise_is_not_the_hosts_starting_noise_for_the_same_seed(device):
    """Hosts draw the starting latent from a generator seeded with the plain seed (ComfyUI's
    prepare_noise, on the CPU; a generator on the latent's device where a host draws there). Were the
    first step's noise that same draw, a batch of one would get 30-40 % too much noise: the bug
    ComfyUI 0.33 fixed for its own samplers on the CPU (default_noise_sampler seeds with seed + 1).
    Ours is keyed away from both on every device (the stream is the same bits everywhere)."""
    shape = (1, 4, 32, 32)
    for seed in (0, 1, 12345, 2 ** 40):
        first_step = per_item_noise_sampler(torch.zeros(shape, device=device), seed)(1.0, 0.5).cpu()
        for generator_device in sorted({"cpu", device}):
            starting = torch.randn(shape, generator=torch.Generator(generator_device).manual_seed(seed),
                                   device=generator_device).cpu()
            corr = torch.corrcoef(torch.stack([starting.flatten(), first_step.flatten()]))[0, 1].item()
            assert abs(corr) < 0.05, \
                f"seed {seed} on {device}: step noise correlates {corr:.3f} with the {generator_device} starting noise"


def test_per_item_noise_is_the_same_for_every_latent_dtype():
    a = per_item_noise_sampler(torch.zeros(2, 3, 8, 8), 5)(1.0, 0.5)
    b = per_item_noise_sampler(torch.zeros(2, 3, 8, 8, dtype=torch.bfloat16), 5)(1.0, 0.5)
    c = per_item_noise_sampler(torch.zeros(2, 3, 8, 8, dtype=torch.float64), 5)(1.0, 0.5)
    assert b.dtype == torch.bfloat16 and c.dtype == torch.float64
    assert torch.equal(b, a.bfloat16())  # the float32 draw, rounded
    torch.testing.assert_close(c.float(), a)


def test_the_ode_and_eta_zero_draw_no_noise():
    """phi = x leaves lambda_t^2 - (lambda_s r)^2 = 0 up to rounding: no draw, no 1e-8 noise."""
    calls = []

    def counting(sigma, sigma_next):
        calls.append(sigma)
        return torch.zeros(4, 2, dtype=torch.float64)

    for kwargs in ({"noise_scale": "ode"}, {"eta": 0.0}):
        sample_er_sde(model, start(4), karras_sigmas(12), noise_sampler=counting, disable=True, **kwargs)
    assert calls == []
