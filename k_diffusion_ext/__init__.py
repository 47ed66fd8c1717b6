"""ER-SDE-Solver for k-diffusion-style sampling: pure torch, no host imports."""
from .coefficients import (SCHEMES, Step, auto_choice, plan_steps, validate_alphas, validate_guidance_scale,
                           validate_sigmas)
from .er_sde import er_sde_correct, er_sde_step, er_sde_update, history_prediction, plan_history, sample_er_sde
from .expression import parse_noise_scale
from .counter_rng import NOISE_STREAM
from .noise import brownian_noise_sampler, gaussian_noise, per_item_noise_sampler, schedule_range
from .noise_scales import DEFAULT_NOISE_SCALE, NOISE_SCALES, power_noise_scale, resolve_noise_scale, with_strength
from .registration import SAMPLER_FUNCTIONS, register

__all__ = [
    "sample_er_sde", "er_sde_step", "plan_history", "er_sde_update", "er_sde_correct", "history_prediction",
    "plan_steps", "Step", "SCHEMES", "auto_choice",
    "validate_sigmas", "validate_alphas", "validate_guidance_scale",
    "register", "SAMPLER_FUNCTIONS", "NOISE_SCALES", "DEFAULT_NOISE_SCALE",
    "power_noise_scale", "with_strength", "resolve_noise_scale", "parse_noise_scale",
    "per_item_noise_sampler", "brownian_noise_sampler", "gaussian_noise", "schedule_range", "NOISE_STREAM",
]
