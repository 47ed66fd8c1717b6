"""The solver against an independent, straightforward transcription of PAPER.md's update.

Written step by step with dense scipy quadrature and explicit divided differences, no
precomputed weights: if the solver's fused weights were derived wrong, the two part."""
import math

import pytest
import torch
from scipy.integrate import quad

from k_diffusion_ext import NOISE_SCALES, sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture


def straightforward_er_sde(model, x, sigmas, alphas, phi, order, corrected, noises):
    f = lambda l: phi(torch.tensor(l, dtype=torch.float64)).item()
    lams = [s / a for s, a in zip(sigmas.tolist(), alphas.tolist())]
    preds = []
    for i in range(len(lams) - 1):
        d0 = model(x, sigmas[i].expand(x.shape[0]))
        preds.append(d0)
        if sigmas[i + 1] == 0:
            x = d0
            continue
        ls, lt, a_s, a_t = lams[i], lams[i + 1], alphas[i].item(), alphas[i + 1].item()
        r = f(lt) / f(ls)
        dl = lt - ls
        x_new = a_t / a_s * r * x + a_t * (1 - r) * d0
        k = min(order, i + 1)
        if k >= 2:
            s1 = quad(lambda l: 1 / f(l), lt, ls, epsabs=0, epsrel=1e-13, limit=200)[0]
            dd1 = (d0 - preds[-2]) / (ls - lams[i - 1])
            deriv = dd1
            if k >= 3:
                dd1_prev = (preds[-2] - preds[-3]) / (lams[i - 1] - lams[i - 2])
                dd2 = (dd1 - dd1_prev) / (ls - lams[i - 2])
                if corrected:
                    deriv = dd1 + dd2 * (ls - lams[i - 1])
                s2 = quad(lambda l: (l - ls) / f(l), lt, ls, epsabs=0, epsrel=1e-13, limit=200)[0]
                x_new = x_new + a_t * (dl ** 2 / 2 + f(lt) * s2) * (2 * dd2)
            x_new = x_new + a_t * (dl + f(lt) * s1) * deriv
        x = x_new + a_t * math.sqrt(max(lt ** 2 - ls ** 2 * r ** 2, 0.0)) * noises[i]
    return x


@pytest.fixture(scope="module")
def problem():
    gen = torch.Generator().manual_seed(3)
    model = mixture_denoiser(ring_mixture(6, 3.0), 0.4)
    noises = [torch.randn(16, 2, dtype=torch.float64, generator=gen) for _ in range(40)]
    return model, gen, noises


def run_both(problem, sigmas, alphas, noise_scale, order, scheme):
    model, gen, noises = problem
    x = torch.randn(16, 2, dtype=torch.float64, generator=gen) * sigmas[0] * alphas[0]
    it = iter(noises)
    ours = sample_er_sde(model, x, sigmas, order=order, scheme=scheme, noise_scale=noise_scale, disable=True,
                         alphas=None if torch.all(alphas == 1) else alphas,
                         noise_sampler=lambda s, t: next(it))
    theirs = straightforward_er_sde(model, x, sigmas, alphas, NOISE_SCALES[noise_scale], order,
                                    scheme == "corrected", noises)
    return ours, theirs


@pytest.mark.parametrize("noise_scale", ["paper_default", "exp_neg_inv", "log_mix", "reverse_sde"])
@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("scheme", ["reference", "corrected"])
def test_ve_solver_matches_paper_formulas(problem, noise_scale, order, scheme):
    sigmas = karras_sigmas(12)
    ours, theirs = run_both(problem, sigmas, torch.ones_like(sigmas), noise_scale, order, scheme)
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_flow_solver_matches_paper_formulas(problem, order):
    sigmas = torch.cat([torch.linspace(0.995, 0.05, 10, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    alphas = 1 - sigmas
    model, gen, noises = problem
    ve_model = model
    # a flow latent x = alpha x0 + sigma n; its denoiser is the VE one at x / alpha, lambda = sigma / alpha
    flow_model = lambda x, s: ve_model(x / (1 - s[:, None]), s[:, None].squeeze(1) / (1 - s))
    ours, theirs = run_both((flow_model, gen, noises), sigmas, alphas, "paper_default", order, "reference")
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)
