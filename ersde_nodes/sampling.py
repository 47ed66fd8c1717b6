"""ER-SDE-Solver on ComfyUI's sampling path.

`sample_er_sde_comfy` has ComfyUI's sampler-function signature (what comfy.samplers.KSAMPLER
calls): it reads the model type, picks alpha, nudges a flow model's first sigma, builds
the noise sampler, and calls the solver. Everything the host does around a sampler
(CFG, model patches, noise masks, previews, progress bar, interrupts, denoise) stays the
host's: the nodes below only hand it a SAMPLER object and a schedule.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from . import names
from ._solver import solver
from .model_type import get_model_sampling, host_noise_scale, schedule_for


class ERSDEInputError(ValueError):
    """Bad input from a graph; the message says what to change."""


def _hint(noise_scale: Any, noise_type: str) -> str:
    if isinstance(noise_scale, str) and noise_scale not in solver.NOISE_SCALES:
        return (f" Edit the node's {names.IN_CUSTOM_NOISE_SCALE} expression (phi must be > 0 with phi(x)/x "
                f"non-decreasing, e.g. {names.DEFAULT_CUSTOM_EXPRESSION!r}) or pick a named {names.IN_NOISE_SCALE}.")
    return ""


def noise_scale_from_inputs(noise_scale: str, custom_noise_scale: str = "") -> str:
    """The solver's noise_scale for the nodes' two inputs. A custom expression is parsed
    here (safely, never evaluated as Python) so that a typo fails on the node that holds it."""
    if noise_scale == names.CUSTOM:
        expression = (custom_noise_scale or "").strip()
        if not expression:
            raise ERSDEInputError(
                f"{names.IN_NOISE_SCALE} is 'custom' but {names.IN_CUSTOM_NOISE_SCALE} is empty: write an expression "
                f"in x such as {names.DEFAULT_CUSTOM_EXPRESSION!r}, or pick a named noise scale.")
        try:
            solver.parse_noise_scale(expression)
        except ValueError as exc:
            raise ERSDEInputError(
                f"ER-SDE: {exc}. Change {names.IN_CUSTOM_NOISE_SCALE} to an expression in x using numbers, + - * / **, "
                f"exp, log, sqrt, ... (for example {names.DEFAULT_CUSTOM_EXPRESSION!r}), or pick a named "
                f"{names.IN_NOISE_SCALE}.") from exc
        return expression
    if noise_scale not in solver.NOISE_SCALES:
        known = ", ".join(list(solver.NOISE_SCALES) + [names.CUSTOM])
        raise ERSDEInputError(f"unknown {names.IN_NOISE_SCALE} {noise_scale!r}: pick one of {known}.")
    return noise_scale


def _noise_sampler(noise_type: str, x: torch.Tensor, sigmas: torch.Tensor, seed: int | None) -> Callable | None:
    if noise_type == names.NOISE_GAUSSIAN:
        return None  # the solver's default: the counter-based stream keyed by extra_args["seed"] + item
    if noise_type == names.NOISE_BROWNIAN:
        sigma_min, sigma_max = solver.schedule_range(sigmas)
        if not 0.0 < sigma_min < sigma_max:
            return None  # no step between two positive sigmas: no noise is drawn
        return solver.brownian_noise_sampler(x, sigma_min, sigma_max, seed)
    if noise_type == names.NOISE_COMFYUI:
        return comfyui_noise_sampler(x, seed)
    raise ERSDEInputError(f"unknown {names.IN_NOISE_TYPE} {noise_type!r}: pick one of {', '.join(names.NOISE_TYPES)}.")


def comfyui_noise_sampler(x: torch.Tensor, seed: int | None) -> Callable[[Any, Any], torch.Tensor]:
    """ComfyUI's own step noise, drawn as its built-in er_sde draws it: the host's
    comfy.k_diffusion.sampling.default_noise_sampler, so each ComfyUI version's rule holds (one
    torch generator on x's device, each call a standard normal of the whole batch's shape; from
    ComfyUI 0.33 on the CPU seeded with seed + 1, so that the first step's noise is not the starting
    latent's). Image i of a batch therefore depends on the batch size, and the numbers depend on the
    device (CPU and CUDA generators differ), as with er_sde. Without a seed the global generator
    draws, as ComfyUI does. Outside ComfyUI (the nodes' functions called from Python) it draws
    by the rule of ComfyUI up to 0.3.x: the generator seeded with the seed itself."""
    try:
        from comfy.k_diffusion.sampling import default_noise_sampler
    except ImportError:
        generator = None
        if seed is not None:
            generator = torch.Generator(device=x.device)
            generator.manual_seed(seed)
        return lambda sigma, sigma_next: torch.randn(x.size(), dtype=x.dtype, layout=x.layout, device=x.device,
                                                     generator=generator)
    return default_noise_sampler(x, seed=seed)


@torch.no_grad()
def sample_er_sde_comfy(model: Any, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                        callback: Callable | None = None, disable: bool | None = None, *, order: int = 3,
                        noise_scale: Any = solver.DEFAULT_NOISE_SCALE, eta: float = 1.0, s_noise: float = 1.0,
                        noise_type: str = names.NOISE_GAUSSIAN, scheme: str = names.SCHEME_CORRECTED,
                        noise_sampler: Callable | None = None, cfg_pp: bool = False) -> torch.Tensor:
    """ER-SDE-Solver with ComfyUI's sampler-function signature (see comfy.samplers.KSAMPLER).

    Flow models (CONST) run with alpha = 1 - sigma and a first sigma of 1 moved just below 1;
    every other model type runs VE-scaled (alpha = 1). The noise is per-batch-item seeded
    from extra_args["seed"] ("gaussian"), a Brownian path per item ("brownian"), or ComfyUI's
    whole-batch generator seeded with extra_args["seed"] as its er_sde draws it ("comfyui");
    an explicit noise_sampler wins over noise_type. The injected noise is s_noise times the
    model's noise scale (model_sampling.noise_scale, ComfyUI 0.33+), as in the stock SDE
    samplers. cfg_pp: CFG++, with the unconditional prediction taken from ComfyUI's CFG through
    a post-CFG function, as ComfyUI's own *_cfg_pp samplers do (which also computes it at cfg 1)."""
    extra_args = {} if extra_args is None else extra_args
    uncond = None
    if cfg_pp:
        extra_args, uncond = _capture_uncond(extra_args)
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ERSDEInputError(
            f"the schedule has {sigmas.numel()} sigma(s), so there is no step to sample: give the sampler at least "
            "2 sigmas (more steps, or denoise above 0).")
    model_sampling = get_model_sampling(model)
    try:
        sigmas, alphas = schedule_for(model_sampling, sigmas)
    except ValueError as exc:
        raise ERSDEInputError(f"ER-SDE-Solver cannot sample: {exc}.") from exc
    # as every stock SDE sampler does: the injected noise follows the model's noise scale
    s_noise = s_noise * host_noise_scale(model_sampling)
    if noise_sampler is None:
        noise_sampler = _noise_sampler(noise_type, x, sigmas, extra_args.get("seed"))

    called = False

    def denoiser(*args: Any, **kwargs: Any) -> torch.Tensor:
        nonlocal called
        called = True
        return model(*args, **kwargs)

    # scheme "auto" decides from the CFG scale; a CFG++ scale is not one (its CFG-equivalent scale
    # changes every step), so with CFG++ the scale stays unknown and "auto" makes its unknown-scale choice
    guidance_scale = None if cfg_pp else host_guidance_scale(model)
    try:
        return solver.sample_er_sde(denoiser, x, sigmas, extra_args, callback, disable, order=order,
                                    noise_scale=noise_scale, eta=eta, s_noise=s_noise,
                                    noise_sampler=noise_sampler, alphas=alphas, scheme=scheme, uncond=uncond,
                                    guidance_scale=guidance_scale)
    except ValueError as exc:
        if called or isinstance(exc, ERSDEInputError):
            raise  # raised by the model or the host, not by the solver's input checks
        raise ERSDEInputError(f"ER-SDE-Solver cannot sample: {exc}.{_hint(noise_scale, noise_type)}") from exc


def host_guidance_scale(model: Any) -> float | None:
    """The CFG scale of the ComfyUI guider behind a sampler function's model (KSamplerX0Inpaint
    wraps the guider; CFGGuider keeps `cfg`). None where the guider has no single scale (dual-CFG
    and custom guiders)."""
    guider = getattr(model, "inner_model", None)
    if hasattr(guider, "cfg2"):
        return None  # Guider_DualCFG keeps the CFGGuider default cfg = 1 beside its two real scales
    cfg = getattr(guider, "cfg", None)
    if isinstance(cfg, bool) or not isinstance(cfg, (int, float)) or not math.isfinite(cfg):
        return None
    return float(cfg)


def _capture_uncond(extra_args: dict) -> tuple[dict, Callable[[], torch.Tensor]]:
    """extra_args (a copy) whose model_options hold a post-CFG function that keeps the
    unconditional prediction of the latest model call, and the function that returns it."""
    import comfy.model_patcher

    captured: list[torch.Tensor | None] = [None]

    def keep_uncond(args: dict) -> torch.Tensor:
        captured[0] = args["uncond_denoised"]
        return args["denoised"]

    extra_args = dict(extra_args)
    model_options = dict(extra_args.get("model_options", {}))
    extra_args["model_options"] = comfy.model_patcher.set_model_options_post_cfg_function(
        model_options, keep_uncond, disable_cfg1_optimization=True)

    def uncond() -> torch.Tensor:
        prediction, captured[0] = captured[0], None  # each model call must hand over its own
        if prediction is None:
            raise ERSDEInputError(
                "CFG++ got no unconditional prediction from ComfyUI's CFG: this model call ran without "
                "the post-CFG functions (a model patch that replaces CFG?). Use the sampler without CFG++.")
        return prediction

    return extra_args, uncond


def _fixed_order(order: int, cfg_pp: bool = False) -> Callable[..., torch.Tensor]:
    def sampler(model: Any, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                callback: Callable | None = None, disable: bool | None = None, **options: Any) -> torch.Tensor:
        if cfg_pp:
            options["cfg_pp"] = True
        return sample_er_sde_comfy(model, x, sigmas, extra_args, callback, disable, order=order, **options)

    name = (names.CFG_PP_SAMPLER_NAME_BY_ORDER if cfg_pp else names.SAMPLER_NAME_BY_ORDER)[order]
    sampler.__name__ = sampler.__qualname__ = "sample_" + name
    sampler.__doc__ = (f"ER-SDE-Solver-{order}{' with CFG++' if cfg_pp else ''} and the paper's default noise "
                       "scale, for ComfyUI (flow models get alpha = 1 - sigma). See sample_er_sde_comfy.")
    return sampler


def sample_er_sde_solver_auto(model: Any, x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None = None,
                              callback: Callable | None = None, disable: bool | None = None,
                              **options: Any) -> torch.Tensor:
    """ER-SDE-Solver Auto for ComfyUI: order (at most 3) and scheme from the cfg of the guider
    behind `model` (host_guidance_scale; unknown for dual-CFG and custom guiders) and the plan,
    with the paper's default noise scale. See k_diffusion_ext.auto_choice."""
    return sample_er_sde_comfy(model, x, sigmas, extra_args, callback, disable,
                               **{"order": 3, "scheme": names.SCHEME_AUTO, **options})


# "sample_er_sde_solver_N[_cfg_pp]" / "sample_er_sde_solver_auto" -> function, as
# comfy.samplers.ksampler() looks them up.
COMFY_SAMPLER_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    **{"sample_" + by_order[order]: _fixed_order(order, cfg_pp)
       for cfg_pp, by_order in ((False, names.SAMPLER_NAME_BY_ORDER), (True, names.CFG_PP_SAMPLER_NAME_BY_ORDER))
       for order in (1, 2, 3)},
    "sample_" + names.AUTO_SAMPLER_NAME: sample_er_sde_solver_auto,
}


def sampler_options(order: int, noise_scale: str, custom_noise_scale: str, eta: float, s_noise: float,
                    noise_type: str, scheme: str, cfg_pp: bool = False) -> dict[str, Any]:
    """The nodes' ER-SDE inputs as keyword options of sample_er_sde_comfy, checked."""
    if noise_type not in names.NOISE_TYPES:
        raise ERSDEInputError(f"unknown {names.IN_NOISE_TYPE} {noise_type!r}: pick one of {', '.join(names.NOISE_TYPES)}.")
    if scheme not in names.SCHEMES:
        raise ERSDEInputError(f"unknown {names.IN_SCHEME} {scheme!r}: pick one of {', '.join(names.SCHEMES)}.")
    if int(order) not in (1, 2, 3):
        raise ERSDEInputError(f"{names.IN_ORDER} must be 1, 2 or 3, got {order!r}.")
    return {"order": int(order), "noise_scale": noise_scale_from_inputs(noise_scale, custom_noise_scale),
            "eta": float(eta), "s_noise": float(s_noise), "noise_type": noise_type, "scheme": scheme,
            "cfg_pp": bool(cfg_pp)}


def make_sampler(**inputs: Any) -> Any:
    """A ComfyUI SAMPLER object (comfy.samplers.KSAMPLER) for the nodes' ER-SDE inputs."""
    import comfy.samplers
    return comfy.samplers.KSAMPLER(sample_er_sde_comfy, extra_options=sampler_options(**inputs))


def ksampler_er_sde(model: Any, seed: int, steps: int, cfg: float, scheduler: str, positive: Any, negative: Any,
                    latent_image: dict, denoise: float, **er_sde_inputs: Any) -> dict:
    """What the stock KSampler node does (ComfyUI's noise, schedule with denoise, previews,
    progress bar, noise mask, model options), with the ER-SDE sampler and its options."""
    import comfy.sample
    import comfy.samplers
    import comfy.utils
    import latent_preview

    sampler = make_sampler(**er_sde_inputs)
    order = sampler.extra_options["order"]
    latent = comfy.sample.fix_empty_latent_channels(model, latent_image["samples"])
    # the stock schedule for these steps, scheduler and denoise
    sigmas = comfy.samplers.KSampler(model, steps=steps, device=model.load_device,
                                     sampler=names.SAMPLER_NAME_BY_ORDER[order], scheduler=scheduler,
                                     denoise=denoise, model_options=model.model_options).sigmas
    if sigmas.numel() < 2:
        raise ERSDEInputError(
            f"{steps} steps with denoise {denoise} leave no step to sample: "
            f"raise {names.IN_DENOISE} above 0 (1.0 starts from pure noise) or raise {names.IN_STEPS}.")
    noise = comfy.sample.prepare_noise(latent, seed, latent_image.get("batch_index"))
    callback = latent_preview.prepare_callback(model, sigmas.numel() - 1)
    samples = comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative, latent,
                                         noise_mask=latent_image.get("noise_mask"), callback=callback,
                                         disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    out = latent_image.copy()
    out["samples"] = samples
    return out
