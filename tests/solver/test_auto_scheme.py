"""Scheme "auto": the predictor-corrector scheme where it measured better, the corrected scheme
(at order 2 at most where noise is injected) where the guidance is strong, decided from the
guidance scale the host hands over (bench/results/pc_auto.md)."""
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
    ("ode", 7.0, 3, "corrected"),                      # strong guidance, no noise: order 3 stays
    ("paper_default", 3.0, 3, "predictor_corrector"),  # light noise: corrector up to 3
    ("paper_default", 4.0, 2, "corrected"),            # guided and noisy: order 2
    ("paper_default", 7.0, 1, "predictor_corrector"),  # strongly guided and noisy: order 1, corrected
    ("reverse_sde", 2.0, 3, "predictor_corrector"),
    ("reverse_sde", 2.5, 2, "corrected"),              # heavy noise: corrector up to 2 only
    ("reverse_sde", 5.0, 1, "predictor_corrector"),
    ("reverse_sde", None, 3, "corrected"),             # no scale: the corrected scheme as asked
    ("paper_default", None, 3, "corrected"),
])
def test_auto_samples_exactly_like_the_variant_its_guidance_scale_selects(noise_scale, guidance, order, scheme):
    auto = _run(scheme="auto", guidance_scale=guidance, noise_scale=noise_scale)
    chosen = _run(scheme=scheme, order=order, noise_scale=noise_scale)
    assert torch.equal(auto, chosen), f"auto at guidance {guidance} ({noise_scale}) is not {scheme} at order {order}"
    others = {(s, k) for s in ("corrected", "predictor_corrector") for k in (1, 2, 3)} - {(scheme, order)}
    for s, k in others:
        assert not torch.equal(auto, _run(scheme=s, order=k, noise_scale=noise_scale)), "variants not told apart"


def test_auto_keeps_the_given_lower_order_and_noiseless_plans_keep_order_3():
    assert torch.equal(_run(scheme="auto", guidance_scale=1.0, order=2),
                       _run(scheme="predictor_corrector", order=2))
    assert torch.equal(_run(scheme="auto", guidance_scale=4.0, order=1, noise_scale="reverse_sde"),
                       _run(scheme="corrected", order=1, noise_scale="reverse_sde"))
    assert torch.equal(_run(scheme="auto", guidance_scale=7.0, order=1, noise_scale="reverse_sde"),
                       _run(scheme="predictor_corrector", order=1, noise_scale="reverse_sde"))
    # s_noise = 0 injects nothing: the ODE's rule (order kept, corrector up to 3)
    assert torch.equal(_run(scheme="auto", guidance_scale=7.0, noise_scale="reverse_sde", s_noise=0.0),
                       _run(scheme="corrected", noise_scale="reverse_sde", s_noise=0.0))
    assert torch.equal(_run(scheme="auto", guidance_scale=2.5, noise_scale="reverse_sde", s_noise=0.0),
                       _run(scheme="predictor_corrector", noise_scale="reverse_sde", s_noise=0.0))


def test_policy_thresholds_sit_where_the_benchmarks_put_them():
    light, heavy = [0.0, 0.05, 0.4], [1.0, 1.0, 0.1]
    assert auto_choice(3.0, light, 3) == (3, True) and auto_choice(3.01, light, 3) == (2, False)
    assert auto_choice(2.0, heavy, 3) == (3, True) and auto_choice(2.01, heavy, 3) == (2, False)
    assert auto_choice(4.99, heavy, 3) == (2, False) and auto_choice(5.0, heavy, 3) == (1, True)
    assert auto_choice(9.0, [0.0], 3) == (3, False), "a noiseless plan keeps its order"
    assert auto_choice(4.0, light, 1) == (1, False), "the given order is a ceiling"
    assert auto_choice(0.0, heavy, 2) == (2, True) and auto_choice(None, [0.0], 3) == (3, False)


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
