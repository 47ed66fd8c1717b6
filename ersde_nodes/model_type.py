"""Which alpha a ComfyUI model needs, read from its model_sampling object.

ComfyUI keeps EPS, V_PREDICTION, EDM (and every other non-flow) latents VE-scaled:
x = x0 + sigma * noise, so alpha = 1. Flow models (model_sampling derived from
comfy.model_sampling.CONST: SD3, Flux, AuraFlow, ...) use x = (1 - sigma) x0 + sigma * noise,
so alpha = 1 - sigma, and sigma = 1 (alpha = 0, lambda = inf) cannot be a step's start:
a first sigma of 1 is moved just below 1, to the sigma the model assigns to 0.01 % of
the way through sampling, as ComfyUI's own er_sde does.
"""
from __future__ import annotations

import logging
from typing import Any

import torch

logger = logging.getLogger(__name__)

# Fraction of the sampling process at which a flow model's first sigma of 1 is evaluated instead.
FIRST_SIGMA_PERCENT = 1e-4


def get_model_sampling(model: Any) -> Any | None:
    """The model_sampling object behind the k-diffusion model wrapper ComfyUI hands a sampler
    (model.inner_model.model_patcher), or None if the wrapper does not have one."""
    try:
        patcher = model.inner_model.model_patcher
    except AttributeError:
        return None
    getter = getattr(patcher, "get_model_object", None)
    if getter is None:
        return None
    try:
        return getter("model_sampling")
    except (AttributeError, KeyError):
        return None


def host_noise_scale(model_sampling: Any) -> float:
    """The model's noise scale (ComfyUI 0.33+: `model_sampling.noise_scale`, from the model config's
    sampling_settings or the ModelNoiseScale node; HiDream-O1 ships 8). ComfyUI scales the starting
    noise by it and every stock SDE sampler multiplies its s_noise by it; 1 where the host has none."""
    return float(getattr(model_sampling, "noise_scale", 1.0))


def is_flow(model_sampling: Any) -> bool:
    """True for flow (CONST) model sampling: x = (1 - sigma) x0 + sigma * noise."""
    if model_sampling is None:
        return False
    try:
        import comfy.model_sampling as cms
        const = getattr(cms, "CONST", None)
    except ImportError:
        const = None
    if const is not None:
        return isinstance(model_sampling, const)
    return any(cls.__name__ == "CONST" for cls in type(model_sampling).__mro__)


def _sigma_below_one(model_sampling: Any) -> float:
    to_sigma = getattr(model_sampling, "percent_to_sigma", None)
    if to_sigma is not None:
        value = float(to_sigma(FIRST_SIGMA_PERCENT))
        if 0.0 < value < 1.0:
            return value
    return 1.0 - FIRST_SIGMA_PERCENT


def schedule_for(model_sampling: Any, sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(sigmas, alphas) for the solver. VE: the sigmas unchanged and alphas None (alpha = 1).
    Flow: a first sigma >= 1 moved just below 1 (on a copy), and alphas = 1 - sigmas. A flow
    schedule above 1 (a model sampling that does not fit the prediction) is refused: alpha < 0."""
    if not is_flow(model_sampling):
        return sigmas, None
    if float(sigmas.max()) > 1.001:  # 1 itself is a flow schedule's start (float32 may round past it)
        raise ValueError(
            f"this model predicts as a flow model (x = (1 - sigma) x0 + sigma noise, so sigma must stay within "
            f"0..1) but its schedule starts at sigma {float(sigmas.max()):.4g}: its model sampling does not fit its "
            "prediction (ComfyUI's own er_sde returns NaN here). Give the model a flow model sampling "
            "(ModelSamplingSD3 / ModelSamplingFlux) or use its own sigmas")
    if sigmas.numel() > 1 and float(sigmas[0]) >= 1.0:
        sigmas = sigmas.clone()
        sigmas[0] = _sigma_below_one(model_sampling)
    return sigmas, 1.0 - sigmas
