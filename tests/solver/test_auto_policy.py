"""ER-SDE-Solver Auto (scheme "auto"): the order and scheme come from a measured table
(k_diffusion_ext.auto_policy), read at the plan's noise group, the guidance scale the host hands
over and the step count; the plan is then the chosen setting's, float for float."""
import pytest
import torch

from k_diffusion_ext import SCHEMES, auto_choice, plan_steps, sample_er_sde, validate_alphas, validate_sigmas
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture
from k_diffusion_ext.auto_policy import STEPS, TABLE, UNKNOWN_GUIDANCE, choose, noise_group, setting
from k_diffusion_ext.noise_scales import resolve_noise_scale

denoiser = mixture_denoiser(ring_mixture(4, 2.0), 0.5)
GROUP_NOISE = {"ode": "ode", "paper": "paper_default", "reverse_sde": "reverse_sde"}


def _edm_plan(steps: int, noise_scale: str, guidance, order: int = 3, scheme: str = "auto"):
    s = validate_sigmas(karras_sigmas(steps, 0.002, 80.0))
    return plan_steps(s, validate_alphas(None, s), resolve_noise_scale(noise_scale, 1.0), order, scheme,
                      guidance_scale=guidance)


def _flow_plan(steps: int, noise_scale: str, guidance, order: int = 3, scheme: str = "auto"):
    t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
    s = validate_sigmas((3 * t / (1 + 2 * t)).clamp(max=1 - 1e-4))
    return plan_steps(s, validate_alphas(1 - s, s), resolve_noise_scale(noise_scale, 1.0), order, scheme,
                      guidance_scale=guidance)


def test_the_table_is_the_one_the_benchmark_derives():
    """The table is data measured by bench.auto_policy (bench/results/auto_policy): the decision rule
    run on the committed scores gives it back entry for entry."""
    from bench.auto_policy import GRIDS, derive, load
    derived = derive(load("fit"))
    cfgs, steps = GRIDS["fit"]
    assert STEPS == steps and {g: sorted(TABLE[g]) for g in TABLE} == {g: list(cfgs) for g in derived if g != "unknown"}
    for group in TABLE:
        for cfg in cfgs:
            assert TABLE[group][cfg] == tuple(derived[group][cfg][s] for s in steps), f"{group}, cfg {cfg:g}"
        assert UNKNOWN_GUIDANCE[group] == tuple(derived["unknown"][group][s] for s in steps), f"{group}, unknown cfg"


@pytest.mark.parametrize("plan", [_edm_plan, _flow_plan], ids=["edm", "flow"])
@pytest.mark.parametrize("group", list(GROUP_NOISE))
@pytest.mark.parametrize("guidance", [None, 1.0, 2.0, 4.5, 7.0, 12.0])
@pytest.mark.parametrize("steps", [10, 20, 50])
def test_auto_plans_exactly_the_setting_its_table_names(plan, group, guidance, steps):
    order, scheme = setting(choose(group, guidance, steps))
    assert plan(steps, GROUP_NOISE[group], guidance) == plan(steps, GROUP_NOISE[group], guidance, order, scheme), \
        f"auto at cfg {guidance}, {steps} steps ({group}) is not order {order} {scheme}"


def test_auto_samples_like_the_chosen_setting_and_the_settings_differ():
    sigmas = karras_sigmas(10, 0.03, 14.6)
    start = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 14.6

    def run(**options):
        return sample_er_sde(denoiser, start, sigmas, extra_args={"seed": 4}, disable=True,
                             noise_scale="paper_default", **options)
    order, scheme = setting(choose("paper", 7.0, 10))
    auto = run(scheme="auto", guidance_scale=7.0)
    assert torch.equal(auto, run(scheme=scheme, order=order, guidance_scale=7.0))
    others = {(s, k) for s in ("corrected", "predictor_corrector") for k in (1, 2, 3)} - {(scheme, order)}
    assert all(not torch.equal(auto, run(scheme=s, order=k, guidance_scale=7.0)) for s, k in others), \
        "the settings are not told apart on this problem"


def test_cfg_and_steps_between_the_measured_ones_read_the_nearest_in_log_scale():
    ode = TABLE["ode"]
    assert choose("ode", 0.0, 20) == choose("ode", 0.5, 20) == ode[1.0][STEPS.index(20)], "below cfg 1: cfg 1's row"
    assert choose("ode", 30.0, 20) == ode[12.0][STEPS.index(20)], "above cfg 12: cfg 12's row"
    assert choose("ode", 1.41, 20) == ode[1.0][STEPS.index(20)] and choose("ode", 1.42, 20) == ode[2.0][STEPS.index(20)]
    assert choose("ode", 7.0, 4) == ode[8.0][0] and choose("ode", 7.0, 150) == ode[8.0][-1]
    assert choose("ode", 4.5, 11) == ode[4.5][0] and choose("ode", 4.5, 12) == ode[4.5][1], "10-14: sqrt(140) = 11.8"


def test_auto_keeps_the_given_order_as_a_ceiling_and_refuses_bad_guidance_scales():
    for group, noise in GROUP_NOISE.items():
        for guidance in (None, 1.0, 8.0):
            shares = [{"ode": 0.0, "paper": 0.1, "reverse_sde": 1.0}[group]] * 9
            order, scheme = auto_choice(guidance, shares, 1)
            assert order == 1 and scheme == setting(choose(group, guidance, 10))[1]
    assert "auto" in SCHEMES
    for bad in (float("nan"), float("inf"), "7", True):
        with pytest.raises(ValueError, match="guidance_scale must be a finite number"):
            _edm_plan(10, "ode", bad)


@pytest.mark.parametrize("space", ["edm", "flow"])
def test_the_paper_scale_counts_as_light_noise_and_the_reverse_sde_as_heavy(space):
    """The noise share (relative to the reverse SDE's) that separates the groups, on both schedules."""
    from k_diffusion_ext.coefficients import _noise_shares
    for steps in (5, 10, 20, 50, 200):
        if space == "edm":
            s = validate_sigmas(karras_sigmas(steps, 0.002, 80.0))
            a = validate_alphas(None, s)
        else:
            t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
            s = validate_sigmas((3 * t / (1 + 2 * t)).clamp(max=1 - 1e-4))
            a = validate_alphas(1 - s, s)
        lam = (s / a)[:-1]
        for name, group in (("ode", "ode"), ("paper_default", "paper"), ("reverse_sde", "reverse_sde")):
            phi = resolve_noise_scale(name, 1.0)
            lam_s, lam_t = lam[:-1], lam[1:]
            shares = _noise_shares(lam_s, lam_t, torch.as_tensor(phi(lam_s)), torch.as_tensor(phi(lam_t)), 1.0)
            assert noise_group(shares) == group, f"{name}, {space}, {steps} steps"
