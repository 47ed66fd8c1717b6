"""Sampling distributions on Gaussian data, where the exact denoiser is linear."""
import pytest
import torch

from k_diffusion_ext import NOISE_SCALES, sample_er_sde
from k_diffusion_ext.analytic import gaussian_denoiser, karras_sigmas

MEAN = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
VAR = torch.tensor([0.25, 1.0, 4.0, 0.5], dtype=torch.float64)
SAMPLES = 200_000
SIGMA_MAX = 80.0


def sample_gaussian(sigmas, seed=0, samples=SAMPLES, **options):
    gen = torch.Generator().manual_seed(seed)
    # the exact noised marginal at sigma_max, so the only error left is the sampler's
    x = MEAN + torch.randn(samples, 4, dtype=torch.float64, generator=gen) * (VAR + sigmas[0] ** 2).sqrt()
    noise = lambda s, t: torch.randn(samples, 4, dtype=torch.float64, generator=gen)
    return sample_er_sde(gaussian_denoiser(MEAN, VAR), x, sigmas, noise_sampler=noise, disable=True, **options)


def moment_errors(out):
    mean_err = ((out.mean(0) - MEAN) / VAR.sqrt()).abs().max().item()   # in data standard deviations
    var_err = (out.var(0) / VAR - 1).abs().max().item()
    return mean_err, var_err


STRONG_NOISE_OVERDISPERSION = pytest.mark.xfail(
    strict=True,
    reason="power_2.5 injects more noise than the reverse SDE (h^2 = 1.5 g^2); the corrected x0' estimate of "
           "order 3 then carries more of the injected noise into the update: variance +2.1 % at 50 steps "
           "(the reference scheme: +1.1 %). See the 100-step test below.")


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("noise_scale", sorted(NOISE_SCALES))
def test_gaussian_mean_and_variance_within_2_percent_at_50_steps(noise_scale, order, request):
    if (noise_scale, order) == ("power_2.5", 3):
        request.applymarker(STRONG_NOISE_OVERDISPERSION)
    mean_err, var_err = moment_errors(sample_gaussian(karras_sigmas(50), order=order, noise_scale=noise_scale))
    assert mean_err < 0.02 and var_err < 0.02, f"mean off by {mean_err:.4f} std, variance by {var_err:.2%}"


@pytest.mark.parametrize("noise_scale", ["paper_default", "reverse_sde"])
def test_first_order_variance_error_halves_with_twice_the_steps(noise_scale):
    """Order 1 is a first-order method: at 50 steps it is still ~10 % off, and it converges."""
    errs = [moment_errors(sample_gaussian(karras_sigmas(n), samples=50_000, order=1, noise_scale=noise_scale))[1]
            for n in (50, 100, 200)]
    assert 2.8 < errs[0] / errs[2] < 5.7, f"variance errors at 50/100/200 steps: {errs}"


def test_strong_noise_third_order_is_within_1_percent_at_100_steps():
    mean_err, var_err = moment_errors(sample_gaussian(karras_sigmas(100), order=3, noise_scale="power_2.5"))
    assert mean_err < 0.01 and var_err < 0.01, f"mean off by {mean_err:.4f} std, variance by {var_err:.2%}"


def test_noise_is_what_makes_it_stochastic():
    """s_noise = 0 on the default noise scale keeps the drift: the variance collapses far below the data's."""
    _, var_err = moment_errors(sample_gaussian(karras_sigmas(50), noise_scale="paper_default", s_noise=0.0))
    assert var_err > 0.3


def test_ve_and_flow_parametrisations_give_the_same_samples():
    """Divided by alpha, the flow update is the VE update in lambda: same noise, same samples."""
    gen = torch.Generator().manual_seed(5)
    sigmas_flow = torch.cat([torch.linspace(0.99, 0.01, 30, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    alphas = 1 - sigmas_flow
    lambdas = sigmas_flow / alphas
    ve_model = gaussian_denoiser(MEAN, VAR)
    flow_model = lambda x, s: ve_model(x / (1 - s[:, None]), s / (1 - s))
    n = 50_000
    x_ve = MEAN + torch.randn(n, 4, dtype=torch.float64, generator=gen) * (VAR + lambdas[0] ** 2).sqrt()
    noises = [torch.randn(n, 4, dtype=torch.float64, generator=gen) for _ in range(30)]

    it_ve, it_flow = iter(noises), iter(noises)
    out_ve = sample_er_sde(ve_model, x_ve, lambdas, noise_sampler=lambda s, t: next(it_ve), disable=True)
    out_flow = sample_er_sde(flow_model, x_ve * alphas[0], sigmas_flow, alphas=alphas,
                             noise_sampler=lambda s, t: next(it_flow), disable=True)
    torch.testing.assert_close(out_flow, out_ve, rtol=1e-9, atol=1e-9)
    mean_err, var_err = moment_errors(torch.cat([out_flow] * 4))
    assert mean_err < 0.03 and var_err < 0.03
