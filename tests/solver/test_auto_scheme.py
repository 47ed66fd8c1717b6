"""Scheme "auto": the predictor-corrector scheme where it measured better, lower orders and the
corrected scheme where the guidance is strong for the step count, decided from the guidance scale
the host hands over and the plan's steps (bench/results/pc_policy.md)."""
import math

import pytest
import torch

from k_diffusion_ext import SCHEMES, auto_choice, plan_steps, sample_er_sde, validate_alphas, validate_sigmas
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture
from k_diffusion_ext.noise_scales import resolve_noise_scale

denoiser = mixture_denoiser(ring_mixture(4, 2.0), 0.5)
SIGMAS = karras_sigmas(8, 0.03, 14.6)


def _start() -> torch.Tensor:
    return torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 14.6


def _run(**options) -> torch.Tensor:
    return sample_er_sde(denoiser, _start(), SIGMAS, extra_args={"seed": 4}, disable=True, **options)


def test_auto_is_listed_and_bad_guidance_scales_are_refused_by_name():
    assert "auto" in SCHEMES
    for bad in (float("nan"), float("inf"), "7", True):
        with pytest.raises(ValueError, match="guidance_scale must be a finite number"):
            _run(scheme="auto", guidance_scale=bad)


@pytest.mark.parametrize("noise_scale, guidance, order, scheme", [
    ("ode", 1.0, 3, "predictor_corrector"),            # unguided: the corrector wins on every group
    ("ode", 3.0, 3, "predictor_corrector"),
    # 8 steps from sigma 14.6 to 0.03 count as 13.7 of the EDM schedule (same mean step in log lambda)
    ("ode", 4.0, 2, "corrected"),                      # 3.4 steps per unit of guidance
    ("ode", 7.0, 1, "predictor_corrector"),            # strong guidance, few steps: order 1 (was order 3)
    ("paper_default", 3.0, 3, "predictor_corrector"),  # light noise: corrector up to 3
    ("paper_default", 4.0, 2, "corrected"),            # guided and noisy: order 2
    ("paper_default", 5.0, 1, "predictor_corrector"),  # from cfg 5: order 1 with the corrector
    ("paper_default", 7.0, 1, "predictor_corrector"),
    ("reverse_sde", 2.0, 3, "predictor_corrector"),
    ("reverse_sde", 2.5, 2, "corrected"),              # heavy noise: corrector up to 2 only
    ("reverse_sde", 5.0, 1, "predictor_corrector"),
    ("reverse_sde", None, 1, "predictor_corrector"),   # no scale: the safest across scales
    ("paper_default", None, 2, "corrected"),
    ("ode", None, 3, "predictor_corrector"),
])
def test_auto_samples_exactly_like_the_variant_its_guidance_scale_selects(noise_scale, guidance, order, scheme):
    auto = _run(scheme="auto", guidance_scale=guidance, noise_scale=noise_scale)
    chosen = _run(scheme=scheme, order=order, noise_scale=noise_scale)
    assert torch.equal(auto, chosen), f"auto at guidance {guidance} ({noise_scale}) is not {scheme} at order {order}"
    others = {(s, k) for s in ("corrected", "predictor_corrector") for k in (1, 2, 3)} - {(scheme, order)}
    for s, k in others:
        assert not torch.equal(auto, _run(scheme=s, order=k, noise_scale=noise_scale)), "variants not told apart"


@pytest.mark.parametrize("noise_scale, guidance, steps, order, scheme", [
    ("ode", 7.0, 10, 1, "corrected"),              # 1.4 steps per unit of guidance
    ("ode", 7.0, 14, 1, "predictor_corrector"),    # 2
    ("ode", 7.0, 20, 2, "corrected"),              # 2.9
    ("ode", 7.0, 30, 2, "corrected"),              # 4.3, but from cfg 7 order 2 (was order 3)
    ("ode", 6.5, 30, 3, "corrected"),              # 4.6 below cfg 7: order 3
    ("ode", 5.0, 20, 3, "corrected"),              # 4
    ("ode", 7.0, 50, 2, "predictor_corrector"),    # 7.1
    ("ode", 4.5, 50, 3, "predictor_corrector"),    # 11
    ("ode", 4.0, 12, 2, "corrected"),              # 3 steps per unit of guidance
    ("paper_default", 8.0, 12, 1, "corrected"),
    ("paper_default", 10.0, 30, 1, "corrected"),   # 3: from cfg 9 order 1 below 3.6 steps a unit
    ("paper_default", 10.0, 36, 1, "predictor_corrector"),
    ("paper_default", 8.0, 20, 1, "predictor_corrector"),
    ("paper_default", 6.0, 20, 1, "predictor_corrector"),
    ("paper_default", 4.5, 30, 2, "corrected"),
    ("reverse_sde", 4.0, 16, 1, "predictor_corrector"),
    ("reverse_sde", 4.0, 20, 2, "corrected"),      # 5 steps per unit of guidance: order 2
    ("reverse_sde", 8.0, 30, 1, "predictor_corrector"),
])
def test_auto_reads_the_step_count(noise_scale, guidance, steps, order, scheme):
    """On the schedule the thresholds were fitted on (EDM's, sigma 80 to 0.002) a step counts as one."""
    sigmas = karras_sigmas(steps, 0.002, 80.0)
    s = validate_sigmas(sigmas)
    a = validate_alphas(None, s)
    phi = resolve_noise_scale(noise_scale, 1.0)
    # the variant gets the guidance too: where the plan is noisy and the guidance strong, both carry the guard
    assert plan_steps(s, a, phi, 3, "auto", guidance_scale=guidance) == \
        plan_steps(s, a, phi, order, scheme, guidance_scale=guidance), f"auto at cfg {guidance}, {steps} steps ({noise_scale}) is not {scheme} at order {order}"


@pytest.mark.parametrize("guidance", [4.5, 7.0, 10.0])
@pytest.mark.parametrize("noise_scale", ["ode", "paper_default", "reverse_sde"])
def test_steps_count_by_their_size_in_log_lambda(noise_scale, guidance):
    """A schedule over a shorter lambda range (SD's 14.6 to 0.0292, a partial denoise) takes smaller
    steps: its n steps count as EDM's schedule takes for the same mean step in log lambda
    (bench/results/auto_limits.md: on SD's schedule the EDM digits model's best setting follows
    that count, 5 misses of 42 cells against 20 counting raw steps)."""
    from k_diffusion_ext.coefficients import AUTO_REFERENCE_LOG_SPAN
    span = math.log(14.6 / 0.0292)
    shares = {"ode": 0.0, "paper_default": 0.1, "reverse_sde": 1.0}[noise_scale]
    for steps in (8, 12, 20, 30, 40):
        sd = validate_sigmas(karras_sigmas(steps, 0.0292, 14.6))
        phi = resolve_noise_scale(noise_scale, 1.0)
        plan = plan_steps(sd, validate_alphas(None, sd), phi, 3, "auto", guidance_scale=guidance)
        same = round(steps * AUTO_REFERENCE_LOG_SPAN / span)
        order, corrector = auto_choice(guidance, [shares] * (same - 1), 3)
        chosen = plan_steps(sd, validate_alphas(None, sd), phi, order,
                            "predictor_corrector" if corrector else "corrected", guidance_scale=guidance)
        assert plan == chosen, f"{steps} SD steps at cfg {guidance} ({noise_scale}) do not count as {same} EDM steps"


def test_auto_keeps_the_given_lower_order_and_noiseless_plans_keep_order_3():
    assert torch.equal(_run(scheme="auto", guidance_scale=1.0, order=2),
                       _run(scheme="predictor_corrector", order=2))
    assert torch.equal(_run(scheme="auto", guidance_scale=3.5, order=1, noise_scale="paper_default"),
                       _run(scheme="corrected", order=1, noise_scale="paper_default"))
    assert torch.equal(_run(scheme="auto", guidance_scale=7.0, order=1, noise_scale="reverse_sde"),
                       _run(scheme="predictor_corrector", order=1, noise_scale="reverse_sde"))
    # s_noise = 0 injects nothing: the ODE's rule (8 steps here, 13.7 EDM steps, at cfg 7: order 1
    # with the corrector; the reverse SDE's rule would be the same, so cfg 4: the ODE's order 2)
    assert torch.equal(_run(scheme="auto", guidance_scale=7.0, noise_scale="reverse_sde", s_noise=0.0),
                       _run(scheme="predictor_corrector", order=1, noise_scale="reverse_sde", s_noise=0.0))
    assert torch.equal(_run(scheme="auto", guidance_scale=4.0, noise_scale="reverse_sde", s_noise=0.0),
                       _run(scheme="corrected", order=2, noise_scale="reverse_sde", s_noise=0.0))
    assert torch.equal(_run(scheme="auto", guidance_scale=2.5, noise_scale="reverse_sde", s_noise=0.0),
                       _run(scheme="predictor_corrector", noise_scale="reverse_sde", s_noise=0.0))


def test_policy_thresholds_sit_where_the_benchmarks_put_them():
    light, heavy, ode = [0.0, 0.05, 0.4], [1.0, 1.0, 0.1], [0.0]
    n = lambda steps, shares: (shares * steps)[:steps - 1]  # noqa: E731  (steps - 1 shares: the last step is to 0)
    assert auto_choice(3.0, n(20, light), 3) == (3, True) and auto_choice(3.01, n(20, light), 3) == (2, False)
    assert auto_choice(2.0, n(20, heavy), 3) == (3, True) and auto_choice(2.01, n(20, heavy), 3) == (2, False)
    assert auto_choice(4.99, n(20, light), 3) == (2, False) and auto_choice(5.0, n(20, light), 3) == (1, True)
    # steps per unit of guidance: order 1 below 1.75 (ODE, light noise), below 4.2 with heavy noise
    assert auto_choice(6.0, n(10, light), 3) == (1, False) and auto_choice(6.0, n(11, light), 3) == (1, True)
    assert auto_choice(4.0, n(16, heavy), 3) == (1, True) and auto_choice(4.0, n(17, heavy), 3) == (2, False)
    assert auto_choice(3.0, n(8, heavy), 3) == (2, False), "order 1 only above guidance 3"
    ode_choices = [auto_choice(6.0, n(steps, ode), 3) for steps in (10, 11, 13, 14, 21, 22, 35, 36, 59, 60)]
    assert ode_choices == [(1, False), (1, True), (1, True), (2, False), (2, False), (3, False), (3, False),
                           (2, True), (2, True), (3, True)]
    # from guidance 7 order 3 gives way to order 2 between 3.6 and 6 steps a unit; light noise from
    # guidance 9: order 1 without the corrector below 3.6
    assert [auto_choice(g, n(40, ode), 3) for g in (6.99, 7.0)] == [(3, False), (2, False)]
    assert [auto_choice(g, n(30, light), 3) for g in (8.99, 9.0)] == [(1, True), (1, False)]
    assert auto_choice(10.0, n(36, light), 3) == (1, True)
    assert auto_choice(4.0, n(10, light), 1) == (1, False), "the given order is a ceiling"
    assert auto_choice(0.0, n(8, heavy), 2) == (2, True)
    assert auto_choice(None, n(20, ode), 3) == (3, True) and auto_choice(None, n(20, light), 3) == (2, False)
    assert auto_choice(None, n(20, heavy), 3) == (1, True)


def _flow_plan(steps: int, guidance: float, noise_scale: str, order: int = 3, scheme: str = "auto"):
    t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
    s = validate_sigmas((3 * t / (1 + 2 * t)).clamp(max=1 - 1e-4))
    return plan_steps(s, validate_alphas(1 - s, s), resolve_noise_scale(noise_scale, 1.0), order, scheme,
                      guidance_scale=guidance)


@pytest.mark.parametrize("noise_scale, guidance, steps, order, scheme", [
    ("ode", 3.0, 20, 3, "predictor_corrector"),
    ("ode", 5.0, 10, 3, "predictor_corrector"),    # flow models keep the corrector at every step count
    ("ode", 6.5, 40, 3, "predictor_corrector"),
    ("ode", 7.0, 10, 2, "predictor_corrector"),    # from cfg 7 at order 2
    ("ode", 10.0, 40, 2, "predictor_corrector"),
    ("paper_default", 4.0, 20, 1, "predictor_corrector"),
    ("paper_default", 8.0, 12, 1, "predictor_corrector"),
    ("reverse_sde", 4.0, 16, 1, "predictor_corrector"),   # noisy plans: the same rule as VE models
    ("reverse_sde", 4.0, 40, 2, "corrected"),
])
def test_auto_on_a_flow_model_keeps_the_corrector_under_strong_guidance(noise_scale, guidance, steps, order, scheme):
    """The flow-trained digits model measured best with the corrector at guidance 3.5-12 and 10-45 steps
    (bench/results/pc_policy.md, check_digits.md); a plan with alpha = 1 - sigma is a flow model's."""
    assert _flow_plan(steps, guidance, noise_scale) == _flow_plan(steps, guidance, noise_scale, order, scheme), \
        f"flow, cfg {guidance}, {steps} steps ({noise_scale}): auto is not {scheme} at order {order}"


def test_only_alpha_equal_to_one_minus_sigma_counts_as_a_flow_model():
    from k_diffusion_ext.coefficients import _is_flow
    s = validate_sigmas(karras_sigmas(10, 0.03, 0.9))
    assert _is_flow(s, validate_alphas(1 - s, s))
    assert not _is_flow(s, validate_alphas(None, s)), "VE latents (alpha = 1)"
    assert not _is_flow(s, validate_alphas(1 / (1 + s * s).sqrt(), s)), "VP latents (diffusers' SD, SDXL)"


@pytest.mark.parametrize("space", ["edm", "flow"])
def test_the_paper_scale_counts_as_light_noise_and_the_reverse_sde_as_heavy(space):
    """The noise share (relative to the reverse SDE's) that separates them, on both schedules at 5-200 steps."""
    for steps in (5, 10, 20, 50, 200):
        if space == "edm":
            sigmas = karras_sigmas(steps, 0.002, 80.0)
            alphas = None
        else:
            t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
            sigmas = (3 * t / (1 + 2 * t)).clamp(max=1 - 1e-4)
            alphas = 1 - sigmas
        s = validate_sigmas(sigmas)
        a = validate_alphas(alphas, s)
        for name, corrector_at_2_5 in (("paper_default", True), ("reverse_sde", False)):
            plan = plan_steps(s, a, resolve_noise_scale(name, 1.0), 3, "auto", guidance_scale=2.5)
            assert any(step.corrector for step in plan) == corrector_at_2_5, f"{name}, {space}, {steps} steps"
