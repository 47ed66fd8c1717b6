"""Scheme predictor_corrector: the corrector's structure (its convergence order is measured in
test_convergence.py and, with CFG++, in test_cfg_pp.py).

After the model call at a step's end point x_t, the step is redone from the same start with the
same noise and the interpolation through the new prediction too; the difference is a fixed
combination of predictions (Step.corrector), which er_sde_correct adds to x_t."""
import pytest
import torch

from k_diffusion_ext import (NOISE_SCALES, SCHEMES, er_sde_correct, er_sde_update, history_prediction, plan_steps,
                             sample_er_sde, validate_alphas, validate_sigmas)
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture

PC = "predictor_corrector"
means = ring_mixture(4, 2.0)
denoiser = mixture_denoiser(means, 0.5)
conditional = mixture_denoiser(means[:2], 0.5)


def _start(n: int = 6, sigma: float = 14.6) -> torch.Tensor:
    return torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7)) * sigma


def test_scheme_is_listed_and_unknown_schemes_are_refused_by_name():
    assert PC in SCHEMES
    with pytest.raises(ValueError, match="unknown scheme 'pc'.*predictor_corrector"):
        sample_er_sde(denoiser, _start(), karras_sigmas(5, 0.03, 14.6), scheme="pc", disable=True)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_predictor_and_corrector_use_the_same_noise_draw(order):
    """The correction is a combination of predictions only: with a model that ignores x (so every
    prediction is the same whatever the noise), PC minus corrected does not depend on the noise,
    and both schemes draw the same noise, once a step (no step to sigma = 0: the output keeps noise)."""
    sigmas = karras_sigmas(10, 0.03, 14.6, append_zero=False)

    def model(x, sigma, **_):  # x0 depends on sigma only
        return torch.sin(sigma)[:, None] * torch.tensor([1.0, -0.5], dtype=x.dtype) + 0 * x

    def run(scheme, seed):
        drawn = []
        gen = torch.Generator().manual_seed(seed)

        def noise(s, t):
            drawn.append((float(s), float(t)))
            return torch.randn(6, 2, dtype=torch.float64, generator=gen)
        out = sample_er_sde(model, _start(), sigmas, order=order, scheme=scheme, noise_scale="reverse_sde",
                            noise_sampler=noise, disable=True)
        return out, drawn

    (pc_a, drawn_pc), (plain_a, drawn_plain) = run(PC, 1), run("corrected", 1)
    pc_b, plain_b = run(PC, 2)[0], run("corrected", 2)[0]
    assert drawn_pc == drawn_plain, "the predictor-corrector scheme draws different noise than the corrected scheme"
    assert not torch.allclose(pc_a, pc_b), "the test's two noise streams do not differ"
    torch.testing.assert_close(pc_a - plain_a, pc_b - plain_b, rtol=0, atol=1e-12,
                               msg="the correction depends on the noise: predictor and corrector drew differently")


@pytest.mark.parametrize("cfg_pp", [False, True], ids=["plain", "cfg_pp"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_a_step_at_a_time_caller_reproduces_sample_er_sde(order, cfg_pp):
    """plan_steps + er_sde_correct + er_sde_update + history_prediction, driven one model call at a
    time (as the diffusers scheduler does), give sample_er_sde's output; the model is called at the
    predicted (uncorrected) points, and the final step is not corrected."""
    sigmas = karras_sigmas(9, 0.03, 14.6)
    x = _start()
    last = {}

    def model(x, sigma, **_):
        u = denoiser(x, sigma)
        last["u"] = u
        return u + 1.5 * (conditional(x, sigma) - u) if cfg_pp else u

    seen = []
    ours = sample_er_sde(model, x, sigmas, order=order, scheme=PC, extra_args={"seed": 3}, disable=True,
                         uncond=(lambda: last["u"]) if cfg_pp else None, callback=lambda d: seen.append(d["x"]))
    s = validate_sigmas(sigmas)
    steps = plan_steps(s, validate_alphas(None, s), NOISE_SCALES["paper_default"], order, PC)
    assert all(step.corrector for step in steps[:-1]) and not steps[-1].corrector
    from k_diffusion_ext import per_item_noise_sampler
    noise = per_item_noise_sampler(x, 3)
    held = []
    for i, step in enumerate(steps):
        assert torch.equal(x, seen[i]), f"step {i}: the model was not called at the predicted point"
        denoised = model(x, sigmas[i:i + 1].expand(x.shape[0]))
        guidance = denoised - last["u"] if cfg_pp and not step.returns_prediction else None
        kept = history_prediction(step, denoised, guidance)
        if i and not step.returns_prediction:
            x = er_sde_correct(x, steps[i - 1], kept, *held)
        z = noise(s[i], s[i + 1]) if step.noise_std else None
        x = er_sde_update(x, step, denoised, *(held + [None, None])[:2], z, guidance)
        held = [kept] + held[:order - 1 + 1]
    torch.testing.assert_close(x, ours, rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_flow_alphas_give_the_ve_solution_of_the_same_lambdas(order):
    """With alpha = 1 - sigma the solver works in y = x / alpha and lambda = sigma / alpha: a flow
    run equals the VE run on the lambdas (corrector weights included), noise off."""
    flow_sigmas = torch.linspace(0.97, 0.0, 9, dtype=torch.float64)
    alphas = 1 - flow_sigmas
    lams = flow_sigmas / alphas

    def flow_model(x, sigma, **_):
        alpha = 1 - sigma[:, None]
        return denoiser(x / alpha, sigma / (1 - sigma))

    y0 = _start(sigma=float(lams[0]))
    flow = sample_er_sde(flow_model, y0 * alphas[0], flow_sigmas, order=order, scheme=PC, alphas=alphas,
                         noise_scale="ode", disable=True)
    ve = sample_er_sde(denoiser, y0, lams, order=order, scheme=PC, noise_scale="ode", disable=True)
    torch.testing.assert_close(flow, ve, rtol=1e-10, atol=1e-10)
    plain = sample_er_sde(denoiser, y0, lams, order=order, noise_scale="ode", disable=True)
    assert not torch.allclose(ve, plain), "the corrector changed nothing: the test would not see it"


def test_every_noise_type_eta_and_s_noise_run_with_the_scheme():
    from k_diffusion_ext import brownian_noise_sampler, schedule_range
    sigmas = karras_sigmas(8, 0.03, 14.6)
    x = _start()
    for kwargs in ({"eta": 0.0}, {"eta": 0.5, "s_noise": 0.7}, {"noise_scale": "x * (exp(x**0.3) + 10)"},
                   {"noise_sampler": brownian_noise_sampler(x, *schedule_range(sigmas), seed=4)}):
        out = sample_er_sde(denoiser, x, sigmas, scheme=PC, extra_args={"seed": 1}, disable=True, **kwargs)
        assert torch.isfinite(out).all(), f"non-finite output with {kwargs}"
