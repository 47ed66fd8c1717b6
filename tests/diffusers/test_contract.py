"""diffusers' scheduler contract, as a user swapping schedulers relies on it: what diffusers' own scheduler
tests check for any scheduler (config save / load, from_config both ways with every compatible class, step
shapes and return_dict=False, add_noise before and after set_timesteps, set_begin_index, custom sigmas and
timesteps, every spacing and sigma schedule with both final sigma types, trained betas, zero-SNR rescaling,
fp16 / bf16, scale_model_input, len(), order), written for ERSDESolverScheduler."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

import diffusers  # noqa: E402
from diffusers import DDPMScheduler, DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler  # noqa: E402

from ersde_diffusers import ERSDESolverScheduler  # noqa: E402

SD15 = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
SHAPE = (2, 4, 8, 8)


def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A smooth 'epsilon' of the latent and the timestep."""
    return torch.sin(x) * (0.3 + float(t) / 2000.0)


def run(scheduler: ERSDESolverScheduler, steps: int | None = 8, dtype: torch.dtype = torch.float32,
        **set_kwargs) -> torch.Tensor:
    scheduler.set_timesteps(steps, **set_kwargs)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0)).to(dtype)
    for t in scheduler.timesteps:
        x = scheduler.step(model(scheduler.scale_model_input(x, t), t).to(dtype), t, x).prev_sample
    return x


def public(config) -> dict:
    return {k: v for k, v in dict(config).items() if not k.startswith("_")}


# --- config -----------------------------------------------------------------------------------

def test_save_pretrained_and_from_pretrained_give_the_same_scheduler(tmp_path: Path):
    scheduler = ERSDESolverScheduler(**SD15, use_karras_sigmas=True, final_sigmas_type="sigma_min", noise_seed=4,
                                     thresholding=True, sample_max_value=3.0)
    scheduler.save_pretrained(tmp_path)
    loaded = ERSDESolverScheduler.from_pretrained(tmp_path)
    assert public(loaded.config) == public(scheduler.config)
    torch.testing.assert_close(run(loaded), run(scheduler), rtol=0, atol=0)


COMPATIBLE = [name for name in ERSDESolverScheduler._compatibles if name != "FlowMatchEulerDiscreteScheduler"]


def test_the_compatible_classes_are_real_and_exclude_edm():
    classes = {cls.__name__ for cls in ERSDESolverScheduler(**SD15).compatibles}
    assert {"DPMSolverMultistepScheduler", "EulerDiscreteScheduler", "DDIMScheduler",
            "FlowMatchEulerDiscreteScheduler"} <= classes
    assert "EDMEulerScheduler" not in classes  # EDM-preconditioned models: refused, see test_an_edm_config...


@pytest.mark.parametrize("name", COMPATIBLE)
def test_from_config_both_ways_with_every_compatible_beta_scheduler(name):
    """ours -> theirs keeps the training schedule; theirs -> ours gives our config back, and the timesteps of
    theirs (same spacing, same betas) where the class has a timestep spacing."""
    cls = getattr(diffusers, name)
    ours = ERSDESolverScheduler(**SD15, timestep_spacing="leading", steps_offset=1, prediction_type="v_prediction")
    theirs = cls.from_config(ours.config)
    for key in ("beta_start", "beta_end", "beta_schedule", "num_train_timesteps", "prediction_type"):
        assert theirs.config[key] == ours.config[key], key
    back = ERSDESolverScheduler.from_config(theirs.config)
    assert public(back.config) == {**public(back.config), **public(ours.config)}
    fresh = ERSDESolverScheduler.from_config(cls.from_config(SD15).config)  # their defaults, as saved
    assert (fresh.config.beta_schedule, fresh.config.beta_end) == ("scaled_linear", 0.012)
    assert torch.isfinite(run(fresh, steps=5)).all()


def test_from_config_both_ways_with_flow_match_euler():
    flow = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.4, max_shift=1.2)
    ours = ERSDESolverScheduler.from_config(flow.config)
    assert ours.is_flow and ours.config.flow_shift == 3.0 and ours.config.use_dynamic_shifting
    back = FlowMatchEulerDiscreteScheduler.from_config(ours.config)
    assert public(back.config) == {**public(back.config), **public(flow.config)}  # shift and dynamic shifting back
    again = ERSDESolverScheduler.from_config(ours.config)
    assert public(again.config) == public(ours.config)


def test_an_edm_config_is_refused_at_from_config():
    with pytest.raises(ValueError, match="EDM"):
        ERSDESolverScheduler.from_config(diffusers.EDMEulerScheduler().config)


def test_unknown_constructor_keys_are_a_type_error():
    with pytest.raises(TypeError):
        ERSDESolverScheduler(algorithm_type="sde-dpmsolver++")


# --- step ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_step_returns_the_sample_s_shape_and_dtype_with_and_without_return_dict(dtype):
    scheduler = ERSDESolverScheduler(**SD15, noise_seed=0)
    scheduler.set_timesteps(4)
    x = torch.randn(SHAPE).to(dtype)
    t = scheduler.timesteps[0]
    out = scheduler.step(model(x, t), t, x)
    assert isinstance(out, diffusers.utils.BaseOutput)
    assert out.prev_sample.shape == out.pred_original_sample.shape == SHAPE
    assert out.prev_sample.dtype == out.pred_original_sample.dtype == dtype
    scheduler.set_timesteps(4)
    as_tuple = scheduler.step(model(x, t), t, x, return_dict=False)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2
    torch.testing.assert_close(as_tuple[0], out.prev_sample, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_run_follows_the_float32_run(dtype):
    full = run(ERSDESolverScheduler(**SD15, noise_seed=1))
    half = run(ERSDESolverScheduler(**SD15, noise_seed=1), dtype=dtype)
    assert half.dtype == dtype and torch.isfinite(half).all()
    torch.testing.assert_close(half.float(), full, rtol=0.05, atol=0.05)


def test_scale_model_input_leaves_the_latent_as_it_is_and_init_noise_sigma_is_one():
    scheduler = ERSDESolverScheduler(**SD15)
    scheduler.set_timesteps(5)
    x = torch.randn(SHAPE)
    assert scheduler.scale_model_input(x, scheduler.timesteps[2]) is x
    assert scheduler.init_noise_sigma == 1.0


def test_len_is_the_training_timesteps_and_order_is_one_model_call_a_step():
    assert len(ERSDESolverScheduler(num_train_timesteps=700)) == 700
    scheduler = ERSDESolverScheduler(**SD15, solver_order=3)
    assert scheduler.order == 1  # pipelines count num_inference_steps * order model calls
    calls = []
    scheduler.set_timesteps(6)
    x = torch.randn(SHAPE)
    for t in scheduler.timesteps:
        calls.append(t)
        x = scheduler.step(model(x, t), t, x).prev_sample
    assert len(calls) == 6 == scheduler.num_inference_steps


# --- add_noise / set_begin_index --------------------------------------------------------------

def test_add_noise_before_set_timesteps_is_ddpm_s_forward_process():
    ours, ddpm = ERSDESolverScheduler(**SD15), DDPMScheduler(**SD15)
    x0, noise = torch.randn(SHAPE), torch.randn(SHAPE)
    t = torch.tensor([999, 10])
    torch.testing.assert_close(ours.add_noise(x0, noise, t), ddpm.add_noise(x0, noise, t), rtol=1e-5, atol=1e-5)


def test_add_noise_after_set_timesteps_uses_the_step_s_sigma():
    scheduler = ERSDESolverScheduler(**SD15, use_karras_sigmas=True)
    scheduler.set_timesteps(10)
    x0, noise = torch.randn(SHAPE), torch.randn(SHAPE)
    i = torch.tensor([3, 6])
    s = scheduler.sigmas[i].view(-1, 1, 1, 1)
    expected = (x0 + s * noise) / (1 + s * s).sqrt()
    torch.testing.assert_close(scheduler.add_noise(x0, noise, scheduler.timesteps[i]), expected, rtol=1e-5,
                               atol=1e-5)


def test_set_begin_index_starts_the_run_there_and_add_noise_uses_it():
    scheduler = ERSDESolverScheduler(**SD15, noise_seed=2)
    scheduler.set_timesteps(10)
    scheduler.set_begin_index(6)
    assert scheduler.begin_index == 6 and scheduler.step_index is None
    x0, noise = torch.randn(SHAPE), torch.randn(SHAPE)
    x = scheduler.add_noise(x0, noise, scheduler.timesteps[6:7])
    s = float(scheduler.sigmas[6])
    torch.testing.assert_close(x, (x0 + s * noise) / (1 + s * s) ** 0.5)
    for t in scheduler.timesteps[6:]:
        x = scheduler.step(model(x, t), t, x).prev_sample
    assert scheduler.step_index == 10 and torch.isfinite(x).all()


# --- schedules ----------------------------------------------------------------------------------

SPACINGS = [dict(timestep_spacing="linspace"), dict(timestep_spacing="leading", steps_offset=1),
            dict(timestep_spacing="trailing")]
SIGMA_SCHEDULES = [dict(), dict(use_karras_sigmas=True), dict(use_exponential_sigmas=True), dict(use_beta_sigmas=True)]
FINALS = ["zero", "sigma_min"]


def _case_id(spacing: dict, sigmas: dict, final: str) -> str:
    return "-".join([spacing["timestep_spacing"], next(iter(sigmas), "plain").removeprefix("use_"), final])


@pytest.mark.parametrize("spacing,sigmas,final", [pytest.param(*case, id=_case_id(*case))
                                                  for case in itertools.product(SPACINGS, SIGMA_SCHEDULES, FINALS)])
def test_every_spacing_and_sigma_schedule_with_both_final_sigmas_is_dpm_solver_s_and_runs(spacing, sigmas, final, assert_dpm_s_timesteps):
    config = {**SD15, **spacing, **sigmas, "final_sigmas_type": final}
    ours, dpm = ERSDESolverScheduler(**config), DPMSolverMultistepScheduler(**config)
    for steps in (1, 3, 10, 30):
        ours.set_timesteps(steps)
        dpm.set_timesteps(steps)
        assert_dpm_s_timesteps(ours, dpm)
        torch.testing.assert_close(ours.sigmas, dpm.sigmas, rtol=2e-5, atol=1e-6)
    assert torch.isfinite(run(ours, steps=4)).all()


def test_custom_timesteps_give_the_same_run_as_the_same_schedule_by_step_count():
    """DPM's full_loop_custom_timesteps check: set_timesteps(timesteps=t) is set_timesteps(n) when t are its."""
    for final in FINALS:
        scheduler = ERSDESolverScheduler(**SD15, final_sigmas_type=final, noise_seed=5)
        by_count = run(scheduler, steps=8)
        timesteps = scheduler.timesteps.clone()
        custom = run(scheduler, steps=None, timesteps=timesteps)
        assert scheduler.timesteps.tolist() == timesteps.tolist()
        torch.testing.assert_close(custom, by_count, rtol=1e-6, atol=1e-6)


def test_custom_sigmas_give_the_same_run_as_the_same_schedule_by_step_count():
    for final in FINALS:
        scheduler = ERSDESolverScheduler(**SD15, final_sigmas_type=final, use_karras_sigmas=True, noise_seed=5)
        by_count = run(scheduler, steps=8)
        sigmas = scheduler.sigmas.clone()
        custom = run(scheduler, steps=None, sigmas=sigmas[:-1])
        torch.testing.assert_close(scheduler.sigmas, sigmas)
        torch.testing.assert_close(custom, by_count, rtol=1e-5, atol=1e-5)


def test_trained_betas_are_used_and_kept():
    betas = np.linspace(0.0002, 0.03, 500) ** 1.1
    scheduler = ERSDESolverScheduler(trained_betas=betas, num_train_timesteps=500)
    ddpm = DDPMScheduler(trained_betas=betas, num_train_timesteps=500)
    torch.testing.assert_close(scheduler.alphas_cumprod, ddpm.alphas_cumprod)
    scheduler.set_timesteps(5)
    assert scheduler.timesteps[0] == 499 and torch.isfinite(run(scheduler, steps=5)).all()


def test_zero_snr_rescaling_is_dpm_solver_s_and_finite():
    config = {**SD15, "rescale_betas_zero_snr": True, "timestep_spacing": "trailing"}
    ours, dpm = ERSDESolverScheduler(**config), DPMSolverMultistepScheduler(**config)
    torch.testing.assert_close(ours.alphas_cumprod, dpm.alphas_cumprod)
    ours.set_timesteps(10)
    dpm.set_timesteps(10)
    torch.testing.assert_close(ours.sigmas, dpm.sigmas, rtol=1e-5, atol=1e-6)
    for prediction_type in ("epsilon", "v_prediction"):
        assert torch.isfinite(run(ERSDESolverScheduler(**config, prediction_type=prediction_type))).all()


def test_the_ode_converges_to_dpm_solver_s_ode_solution():
    """The numbers of DPM-Solver++'s own full-loop tests cannot be ours (another solver), but with
    noise_scale="ode" both solve the same probability-flow ODE: many steps agree."""
    ours = ERSDESolverScheduler(**SD15, noise_scale="ode")
    dpm = DPMSolverMultistepScheduler(**SD15, solver_order=3, final_sigmas_type="zero")
    a, b = run(ours, steps=200), run(dpm, steps=200)
    torch.testing.assert_close(a, b, rtol=2e-3, atol=2e-3)
    coarse = run(ERSDESolverScheduler(**SD15, noise_scale="ode"), steps=4)
    assert (coarse - b).abs().max() > 2e-3  # the check can tell solutions apart
