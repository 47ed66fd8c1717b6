"""The scheduler as diffusers' own scheduler tests check one (config round trips, step shapes,
add_noise, timesteps, a deterministic full loop), its schedules against diffusers' schedulers for
the same config, its noise, and clear errors for bad config."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from diffusers import DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler  # noqa: E402

from ersde_diffusers import ERSDESolverScheduler  # noqa: E402
from k_diffusion_ext import sample_er_sde  # noqa: E402

SD15 = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
SHAPE = (2, 4, 8, 8)


def dummy_model(sample: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed smooth 'epsilon' model of the latent and the timestep."""
    return torch.tanh(sample) * (0.5 + float(t) / 2000.0)


def full_loop(scheduler: ERSDESolverScheduler, steps: int = 10, dtype: torch.dtype = torch.float32,
              **step_kwargs) -> torch.Tensor:
    scheduler.set_timesteps(steps)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0)).to(dtype) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        x = scheduler.step(dummy_model(scheduler.scale_model_input(x, t), t), t, x, **step_kwargs).prev_sample
    return x


# --- config -----------------------------------------------------------------------------------

def test_save_and_load_round_trip(tmp_path: Path):
    scheduler = ERSDESolverScheduler(**SD15, solver_order=2, noise_scale="x * (exp(x**0.3) + 10)", eta=0.5,
                                     use_karras_sigmas=True, noise_seed=7)
    scheduler.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "scheduler_config.json").read_text())
    assert saved["_class_name"] == "ERSDESolverScheduler" and saved["noise_scale"] == "x * (exp(x**0.3) + 10)"
    loaded = ERSDESolverScheduler.from_pretrained(tmp_path)
    public = lambda config: {k: v for k, v in config.items() if not k.startswith("_")}  # noqa: E731
    assert public(loaded.config) == public(scheduler.config)
    torch.testing.assert_close(full_loop(loaded), full_loop(scheduler), rtol=0, atol=0)


def test_trained_betas_round_trip(tmp_path: Path):
    betas = np.linspace(0.0001, 0.02, 1000)
    scheduler = ERSDESolverScheduler(trained_betas=betas)
    scheduler.save_pretrained(tmp_path)
    loaded = ERSDESolverScheduler.from_pretrained(tmp_path)
    np.testing.assert_allclose(loaded.config.trained_betas, betas)
    torch.testing.assert_close(full_loop(loaded), full_loop(scheduler), rtol=0, atol=0)


def test_config_is_json():
    config = json.loads(ERSDESolverScheduler(**SD15).to_json_string().replace("-Infinity", "null"))
    assert config["solver_order"] == 3 and config["noise_source"] == "portable"


def test_from_config_to_and_from_dpm_solver():
    dpm = DPMSolverMultistepScheduler(**SD15, solver_order=3, use_karras_sigmas=True, steps_offset=1,
                                      algorithm_type="sde-dpmsolver++")
    ours = ERSDESolverScheduler.from_config(dpm.config)
    assert (ours.config.solver_order, ours.config.use_karras_sigmas, ours.config.steps_offset) == (3, True, 1)
    back = DPMSolverMultistepScheduler.from_config(ours.config)
    assert back.config.use_karras_sigmas and back.config.beta_schedule == "scaled_linear"
    assert {DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler} <= set(ours.compatibles)
    assert len(ours) == 1000


def test_from_flow_match_config_is_a_flow_scheduler():
    scheduler = ERSDESolverScheduler.from_config(FlowMatchEulerDiscreteScheduler(shift=3.0).config)
    assert scheduler.is_flow and scheduler.config.prediction_type == "flow_prediction"
    assert scheduler.config.flow_shift == 3.0 and not scheduler.config.use_flow_sigmas
    explicit = ERSDESolverScheduler.from_config(FlowMatchEulerDiscreteScheduler(shift=3.0).config, flow_shift=2.0)
    assert explicit.config.flow_shift == 2.0


BAD_CONFIGS = [
    (dict(noise_scale="no_such_scale"), "unknown noise scale"),
    (dict(noise_scale="__import__('os').system('touch /tmp/ersde_pwned')"), "noise"),
    (dict(noise_scale="x.__class__"), "noise"),
    (dict(noise_scale="x**0.5"), "non-decreasing"),
    (dict(solver_order=4), "solver_order"),
    (dict(prediction_type="velocity"), "prediction_type"),
    (dict(scheme="magic"), "scheme"),
    (dict(noise_source="global"), "noise_source"),
    (dict(beta_schedule="cosine"), "beta_schedule"),
    (dict(timestep_spacing="even"), "timestep_spacing"),
    (dict(final_sigmas_type="one"), "final_sigmas_type"),
    (dict(eta=-1.0), "eta"),
    (dict(s_noise=float("nan")), "s_noise"),
    (dict(noise_seed=1.5), "noise_seed"),
    (dict(use_karras_sigmas=True, use_beta_sigmas=True), "at most one"),
    (dict(prediction_type="v_prediction", use_flow_sigmas=True), "v_prediction"),
    (dict(variance_type="fixed"), "variance_type"),
    (dict(scheme="auto", guidance_scale="__import__('os').system('touch /tmp/ersde_pwned')"), "guidance_scale"),
    (dict(guidance_scale=float("inf")), "guidance_scale"),
]


@pytest.mark.parametrize("config,words", BAD_CONFIGS)
def test_bad_config_is_a_clear_error_at_construction(config, words):
    with pytest.raises(ValueError, match=words):
        ERSDESolverScheduler(**config)
    assert not Path("/tmp/ersde_pwned").exists()


def test_a_noise_scale_must_be_a_string():
    with pytest.raises(ValueError, match="expression string"):
        ERSDESolverScheduler(noise_scale=lambda x: x)


# --- schedules --------------------------------------------------------------------------------

DPM_SCHEDULES = [
    dict(),
    dict(timestep_spacing="leading", steps_offset=1),
    dict(timestep_spacing="trailing"),
    dict(use_karras_sigmas=True),
    dict(use_exponential_sigmas=True),
    dict(use_beta_sigmas=True),
    dict(final_sigmas_type="sigma_min"),
    dict(rescale_betas_zero_snr=True, timestep_spacing="trailing"),
    dict(beta_schedule="squaredcos_cap_v2", lambda_min_clipped=-5.1),
    dict(beta_schedule="linear", beta_start=0.0001, beta_end=0.02),
]


@pytest.mark.parametrize("config", DPM_SCHEDULES)
def test_vp_schedules_match_dpm_solver(config):
    """The same config gives DPMSolverMultistepScheduler's timesteps and sigmas: scheduler.sigmas[i] is the
    k-diffusion sigma of step i, one more (the final sigma) than timesteps."""
    config = {**SD15, **config}
    ours, dpm = ERSDESolverScheduler(**config), DPMSolverMultistepScheduler(**config)
    for steps in (4, 10, 25):
        ours.set_timesteps(steps)
        dpm.set_timesteps(steps)
        assert len(ours.timesteps) == steps and len(ours.sigmas) == steps + 1
        torch.testing.assert_close(ours.timesteps, dpm.timesteps, rtol=0, atol=1)
        torch.testing.assert_close(ours.sigmas, dpm.sigmas, rtol=1e-5, atol=1e-6)


def test_custom_sigmas_and_timesteps():
    scheduler = ERSDESolverScheduler(**SD15)
    scheduler.set_timesteps(sigmas=[10.0, 3.0, 1.0, 0.1])
    assert scheduler.sigmas.tolist() == pytest.approx([10.0, 3.0, 1.0, 0.1, 0.0])
    assert scheduler.timesteps.tolist() == sorted(scheduler.timesteps.tolist(), reverse=True)
    scheduler.set_timesteps(timesteps=[900, 500, 100])
    assert scheduler.timesteps.tolist() == [900, 500, 100] and len(scheduler.sigmas) == 4
    with pytest.raises(ValueError, match="one of each a step"):
        scheduler.set_timesteps(sigmas=[3.0, 1.0], timesteps=[1])
    with pytest.raises(ValueError, match="increase"):
        scheduler.set_timesteps(sigmas=[1.0, 3.0])


def test_flow_shifts_and_mu():
    static = ERSDESolverScheduler.from_config(FlowMatchEulerDiscreteScheduler(shift=3.0).config)
    static.set_timesteps(sigmas=[1.0, 0.5], mu=123.0)  # mu is ignored without use_dynamic_shifting
    assert static.sigmas.tolist() == pytest.approx([1.0, 0.75, 0.0])
    dynamic = ERSDESolverScheduler.from_config(FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True).config)
    with pytest.raises(ValueError, match="mu"):
        dynamic.set_timesteps(4)
    dynamic.set_timesteps(sigmas=[1.0, 0.5], mu=0.0)
    assert dynamic.sigmas.tolist() == pytest.approx([1.0, 0.5, 0.0])
    flow = FlowMatchEulerDiscreteScheduler(shift=3.0, use_karras_sigmas=True)
    ours = ERSDESolverScheduler.from_config(flow.config)
    flow.set_timesteps(7)
    ours.set_timesteps(7)
    torch.testing.assert_close(ours.sigmas, flow.sigmas)


# --- step ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_step_keeps_shape_and_dtype(dtype):
    scheduler = ERSDESolverScheduler(**SD15)
    scheduler.set_timesteps(5)
    x = torch.randn(SHAPE).to(dtype)
    out = scheduler.step(dummy_model(x, scheduler.timesteps[0]).to(dtype), scheduler.timesteps[0], x)
    assert out.prev_sample.shape == SHAPE and out.prev_sample.dtype == dtype
    assert out.pred_original_sample.shape == SHAPE and out.pred_original_sample.dtype == dtype
    assert scheduler._run.noise(1.0, 0.5).dtype == torch.float32  # noise drawn in float32 whatever the latent
    prev, x0 = scheduler.step(torch.zeros_like(x), scheduler.timesteps[1], x, return_dict=False)
    assert prev.shape == x0.shape == SHAPE


def test_return_dict_and_tuple_agree():
    scheduler = ERSDESolverScheduler(**SD15, noise_seed=0)
    scheduler.set_timesteps(4)
    x = torch.randn(SHAPE)
    as_dict = scheduler.step(dummy_model(x, scheduler.timesteps[0]), scheduler.timesteps[0], x)
    scheduler.set_timesteps(4)
    as_tuple = scheduler.step(dummy_model(x, scheduler.timesteps[0]), scheduler.timesteps[0], x, return_dict=False)
    torch.testing.assert_close(as_dict.prev_sample, as_tuple[0], rtol=0, atol=0)
    torch.testing.assert_close(as_dict.pred_original_sample, as_tuple[1], rtol=0, atol=0)


def test_many_steps_with_repeated_timesteps():
    """200 Karras steps round to some repeated training timesteps near t = 0; the loop runs and stays finite."""
    scheduler = ERSDESolverScheduler(**SD15, use_karras_sigmas=True)
    scheduler.set_timesteps(200)
    assert len(set(scheduler.timesteps.tolist())) < 200
    assert torch.isfinite(full_loop(scheduler, steps=200)).all()


def test_full_loop_is_deterministic_and_set_timesteps_starts_a_new_run():
    scheduler = ERSDESolverScheduler(**SD15, noise_seed=1)
    first, second = full_loop(scheduler), full_loop(scheduler)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert torch.isfinite(first).all()
    assert (full_loop(ERSDESolverScheduler(**SD15, noise_seed=2)) - first).abs().max() > 1e-3
    ode = ERSDESolverScheduler(**SD15, noise_scale="ode")
    assert (full_loop(ode) - first).abs().max() > 1e-3


def test_a_generator_seeds_the_noise_and_no_generator_falls_back_to_the_starting_latent():
    scheduler = ERSDESolverScheduler(**SD15)
    a = full_loop(scheduler, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(0)
    b = full_loop(scheduler, generator=torch.Generator().manual_seed(5))
    c = full_loop(scheduler, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3
    torch.manual_seed(1)
    d = full_loop(scheduler)
    torch.manual_seed(2)
    e = full_loop(scheduler)  # torch's global generator plays no part
    torch.testing.assert_close(d, e, rtol=0, atol=0)
    with pytest.raises(ValueError, match="generators"):
        full_loop(scheduler, generator=[torch.Generator()] * 3)


def test_step_needs_set_timesteps_and_stops_at_the_end():
    scheduler = ERSDESolverScheduler(**SD15)
    x = torch.randn(SHAPE)
    with pytest.raises(ValueError, match="set_timesteps"):
        scheduler.step(x, 999, x)
    scheduler.set_timesteps(2)
    for t in scheduler.timesteps:
        x = scheduler.step(torch.zeros_like(x), t, x).prev_sample
    with pytest.raises(ValueError, match="set_timesteps again"):
        scheduler.step(x, scheduler.timesteps[-1], x)


def test_learned_variance_channels_are_dropped():
    scheduler = ERSDESolverScheduler(**SD15, variance_type="learned_range")
    scheduler.set_timesteps(3)
    x = torch.randn(SHAPE)
    out = scheduler.step(torch.cat([torch.zeros_like(x), torch.ones_like(x)], dim=1), scheduler.timesteps[0], x)
    assert out.prev_sample.shape == SHAPE


def test_a_run_from_begin_index_is_a_fresh_run_on_the_rest_of_the_schedule():
    """img2img: the plan starts at begin_index, orders ramp up from there, as sample_er_sde on sigmas[begin:]."""
    scheduler = ERSDESolverScheduler(**SD15, noise_seed=3)
    scheduler.set_timesteps(8)
    scheduler.set_begin_index(3)
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    start, sigmas = x.clone(), scheduler.sigmas.double()

    def x0_of(y: torch.Tensor, s: float) -> torch.Tensor:  # VE form of the denoiser behind eps = tanh(x) / 2
        return y - s * torch.tanh(y / (1 + s * s) ** 0.5) / 2

    for i, t in enumerate(scheduler.timesteps[3:], start=3):
        s = float(sigmas[i])
        eps = torch.tanh(x) / 2
        x = scheduler.step(eps, t, x).prev_sample
    theirs = sample_er_sde(lambda y, s, **_: x0_of(y, s[0].item()), start * (1 + sigmas[3] ** 2) ** 0.5, sigmas[3:],
                           extra_args={"seed": 3}, disable=True)
    torch.testing.assert_close(x, theirs, rtol=1e-12, atol=1e-12)


# --- add_noise / scale_noise ------------------------------------------------------------------

def test_add_noise_is_the_vp_forward_process():
    scheduler = ERSDESolverScheduler(**SD15)
    scheduler.set_timesteps(10)
    x0, noise = torch.randn(SHAPE), torch.randn(SHAPE)
    t = scheduler.timesteps[[2, 5]]
    noisy = scheduler.add_noise(x0, noise, t)
    ac = scheduler.alphas_cumprod[t].float().view(-1, 1, 1, 1)
    torch.testing.assert_close(noisy, ac.sqrt() * x0 + (1 - ac).sqrt() * noise, rtol=1e-4, atol=1e-4)
    # before the first step of an img2img run (begin_index set): the begin_index sigma
    scheduler.set_begin_index(4)
    single = scheduler.add_noise(x0[:1], noise[:1], scheduler.timesteps[4:5])
    alpha = 1 / (1 + scheduler.sigmas[4] ** 2) ** 0.5
    torch.testing.assert_close(single, alpha * x0[:1] + alpha * scheduler.sigmas[4] * noise[:1])


def test_scale_noise_matches_flow_match_euler():
    flow = FlowMatchEulerDiscreteScheduler(shift=3.0)
    ours = ERSDESolverScheduler.from_config(flow.config)
    for scheduler in (flow, ours):
        scheduler.set_timesteps(6)
        scheduler.set_begin_index(2)
    x0, noise = torch.randn(SHAPE), torch.randn(SHAPE)
    t = ours.timesteps[2:3]
    torch.testing.assert_close(ours.scale_noise(x0, t, noise), flow.scale_noise(x0, t, noise))


def test_v_prediction_with_zero_terminal_snr_is_finite():
    """rescale_betas_zero_snr: the first sigma is 4096 (alpha = 2^-12); v-prediction reads x0 there."""
    scheduler = ERSDESolverScheduler(**SD15, prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                     timestep_spacing="trailing")
    x = full_loop(scheduler, steps=8)
    assert scheduler.sigmas[0] > 4000 and torch.isfinite(x).all()


def test_flow_start_at_sigma_one_is_finite():
    for prediction_type in ("flow_prediction", "epsilon"):
        scheduler = ERSDESolverScheduler(prediction_type=prediction_type, use_flow_sigmas=True, flow_shift=3.0)
        x = full_loop(scheduler, steps=6)
        assert scheduler.sigmas[0] == 1.0 and torch.isfinite(x).all()


# --- what diffusers users hit (issue 22) --------------------------------------------------------

SD15_SIGMA_MIN = dict(SD15, final_sigmas_type="sigma_min")


@pytest.mark.parametrize("spacing", ["karras", "exponential", "beta"])
def test_respaced_sigmas_with_final_sigma_min_work_at_every_step_count(spacing):
    """The last respaced sigma is sigma_min up to rounding: the final step has zero length (DPM's), no error."""
    scheduler = ERSDESolverScheduler(**SD15_SIGMA_MIN, **{f"use_{spacing}_sigmas": True})
    dpm = DPMSolverMultistepScheduler(**SD15_SIGMA_MIN, **{f"use_{spacing}_sigmas": True})
    for steps in range(2, 51):
        scheduler.set_timesteps(steps)
        dpm.set_timesteps(steps)
        assert len(scheduler.timesteps) == steps and scheduler.sigmas[-1] <= scheduler.sigmas[-2]
        torch.testing.assert_close(scheduler.sigmas, dpm.sigmas, rtol=1e-5, atol=1e-6)
    x = full_loop(scheduler, steps=6)
    assert torch.isfinite(x).all()


def test_a_dpm_karras_sigma_min_config_runs_from_config():
    dpm = DPMSolverMultistepScheduler(**SD15_SIGMA_MIN, use_karras_sigmas=True)
    scheduler = ERSDESolverScheduler.from_config(dpm.config)
    scheduler.set_timesteps(25)
    assert torch.isfinite(full_loop(scheduler, steps=25)).all()


def test_the_final_zero_length_step_leaves_the_latent_as_it_is():
    scheduler = ERSDESolverScheduler(**SD15_SIGMA_MIN, use_karras_sigmas=True, noise_seed=0)
    scheduler.set_timesteps(5)
    assert scheduler.sigmas[-1] == scheduler.sigmas[-2]
    x = torch.randn(SHAPE)
    for t in scheduler.timesteps[:-1]:
        x = scheduler.step(dummy_model(x, t), t, x).prev_sample
    last = scheduler.step(dummy_model(x, scheduler.timesteps[-1]), scheduler.timesteps[-1], x).prev_sample
    torch.testing.assert_close(last, x, rtol=0, atol=0)


@pytest.mark.parametrize("spacing", ["karras", "exponential", "beta"])
def test_the_scheduler_s_own_sigmas_fed_back_as_custom_sigmas_give_the_same_schedule(spacing):
    """scheduler.sigmas[:-1] is float32; with sigma_min final it may end a hair below sigma_min (float64)."""
    scheduler = ERSDESolverScheduler(**SD15_SIGMA_MIN, **{f"use_{spacing}_sigmas": True})
    for steps in (2, 7, 20, 25):
        scheduler.set_timesteps(steps)
        sigmas, timesteps = scheduler.sigmas.clone(), scheduler.timesteps.clone()
        scheduler.set_timesteps(sigmas=sigmas[:-1])
        torch.testing.assert_close(scheduler.sigmas, sigmas, rtol=1e-6, atol=0)
        assert scheduler.timesteps.tolist() == timesteps.tolist()


def test_custom_sigmas_well_below_sigma_min_with_final_sigma_min_are_a_clear_error():
    scheduler = ERSDESolverScheduler(**SD15_SIGMA_MIN)
    with pytest.raises(ValueError, match="final_sigmas_type 'zero'"):
        scheduler.set_timesteps(sigmas=[10.0, 1.0, 0.001])


def test_beta_schedulers_expose_betas_and_float32_alphas_cumprod():
    scheduler, dpm = ERSDESolverScheduler(**SD15), DPMSolverMultistepScheduler(**SD15)
    for name in ("betas", "alphas", "alphas_cumprod"):
        ours, theirs = getattr(scheduler, name), getattr(dpm, name)
        assert ours.dtype == theirs.dtype == torch.float32, name
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)
    trained = np.linspace(0.0002, 0.03, 1000)
    assert ERSDESolverScheduler(trained_betas=trained).betas.tolist() == pytest.approx(trained.tolist())


@pytest.mark.parametrize("flow", [False, True])
def test_sigmas_and_timesteps_both_given_as_cogview4_passes_them(flow):
    """retrieve_timesteps(timesteps=, sigmas=): the sigmas make the schedule, the model sees the timesteps."""
    if flow:
        reference = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, time_shift_type="linear")
        scheduler = ERSDESolverScheduler.from_config(reference.config)
        timesteps = np.linspace(1000, 1, 6).astype(np.int64).astype(np.float32)
        sigmas = timesteps / 1000
        for s in (reference, scheduler):
            s.set_timesteps(6, timesteps=timesteps, sigmas=sigmas, mu=0.9)
        torch.testing.assert_close(scheduler.timesteps, reference.timesteps)
        torch.testing.assert_close(scheduler.sigmas, reference.sigmas)
    else:
        scheduler = ERSDESolverScheduler(**SD15)
        scheduler.set_timesteps(timesteps=[999, 500, 100], sigmas=[14.0, 1.0, 0.1])
        assert scheduler.timesteps.tolist() == [999, 500, 100]
        assert scheduler.sigmas.tolist() == pytest.approx([14.0, 1.0, 0.1, 0.0])


@pytest.mark.parametrize("config", [dict(use_exponential_sigmas=True), dict(use_beta_sigmas=True),
                                    dict(use_karras_sigmas=True), dict(use_karras_sigmas=True,
                                                                       beta_schedule="squaredcos_cap_v2"),
                                    dict(use_exponential_sigmas=True, final_sigmas_type="sigma_min")])
def test_the_model_sees_dpm_solver_s_timesteps_exactly(config, assert_dpm_s_timesteps):
    """DPM truncates the timesteps of exponential, beta and cosine-Karras sigmas and rounds Karras': the same."""
    config = {**SD15, **config} if config.get("beta_schedule") is None else config
    ours, dpm = ERSDESolverScheduler(**config), DPMSolverMultistepScheduler(**config)
    for steps in range(1, 51):
        ours.set_timesteps(steps)
        dpm.set_timesteps(steps)
        assert_dpm_s_timesteps(ours, dpm)


def test_custom_timesteps_are_truncated_as_dpm_solver_does():
    ours, dpm = ERSDESolverScheduler(**SD15), DPMSolverMultistepScheduler(**SD15)
    for s in (ours, dpm):
        s.set_timesteps(timesteps=[900.7, 500.2, 100.9])
    assert ours.timesteps.tolist() == dpm.timesteps.tolist() == [900, 500, 100]


def _loop_x0(scheduler: ERSDESolverScheduler, steps: int = 4) -> list[torch.Tensor]:
    scheduler.set_timesteps(steps)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0)) * 3
    x0s = []
    for t in scheduler.timesteps:
        out = scheduler.step(torch.zeros_like(x) - 2.0 * x, t, x)  # an 'epsilon' that pushes x0 out of [-1, 1]
        x = out.prev_sample
        x0s.append(out.pred_original_sample)
    return x0s


def test_thresholding_clips_each_x0_prediction_as_dpm_solver_does():
    plain = _loop_x0(ERSDESolverScheduler(**SD15, noise_seed=0))
    assert max(float(x0.abs().max()) for x0 in plain) > 1.5
    scheduler = ERSDESolverScheduler(**SD15, noise_seed=0, thresholding=True, dynamic_thresholding_ratio=0.9,
                                     sample_max_value=1.5)
    dpm = DPMSolverMultistepScheduler(**SD15, thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5)
    assert all(float(x0.abs().max()) <= 1.0 + 1e-6 for x0 in _loop_x0(scheduler))
    # the rule itself, item by item, against DPM's own (one item below the threshold, one above)
    x0 = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3)) * torch.tensor([0.5, 4.0]).view(2, 1, 1, 1)
    from ersde_diffusers.scheduler import dynamic_threshold
    torch.testing.assert_close(dynamic_threshold(x0, 0.9, 1.5), dpm._threshold_sample(x0), rtol=0, atol=1e-7)


def test_thresholding_from_a_config_is_applied_not_just_kept():
    dpm = DPMSolverMultistepScheduler(**SD15, thresholding=True, sample_max_value=2.0)
    scheduler = ERSDESolverScheduler.from_config(dpm.config, noise_seed=0)
    assert scheduler.config.thresholding and scheduler.config.sample_max_value == 2.0
    assert all(float(x0.abs().max()) <= 1.0 + 1e-6 for x0 in _loop_x0(scheduler))


def test_settings_the_scheduler_does_not_honour_are_refused_or_warned_about(caplog):
    from diffusers import DDPMScheduler, EulerDiscreteScheduler
    with pytest.raises(ValueError, match="timestep_type"):
        ERSDESolverScheduler.from_config(EulerDiscreteScheduler(**SD15, timestep_type="continuous").config)
    from diffusers.utils import logging as diffusers_logging
    diffusers_logging.enable_propagation()
    try:
        with caplog.at_level("WARNING"):
            ERSDESolverScheduler.from_config(DDPMScheduler(clip_sample=True).config)
            ERSDESolverScheduler.from_config(DPMSolverMultistepScheduler(use_lu_lambdas=True).config)
    finally:
        diffusers_logging.disable_propagation()
    assert "clip_sample=True" in caplog.text and "use_lu_lambdas=True" in caplog.text
    with pytest.raises(TypeError):
        ERSDESolverScheduler(clip_sample=True)  # the constructor takes only what it honours
