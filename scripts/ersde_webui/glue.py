"""WebUI glue of the ER-SDE extension that needs no host import (torch only).

The entry script ``scripts/er_sde_samplers.py`` loads this file by path under the unique
module name ``er_sde_nodes_webui_glue``; tests load it the same way, without a WebUI.

Sampler labels and aliases below are stored in images' metadata ("Sampler: ER-SDE-Solver 3")
and in API requests: once released they never change. A new behaviour gets a new entry.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Iterable, NamedTuple

import torch

MODULE_NAME = "er_sde_nodes_webui_glue"
SOLVER_MODULE_NAME = "er_sde_nodes_webui_k_diffusion_ext"


class SamplerSpec(NamedTuple):
    label: str       # shown in the dropdown, written to infotext, accepted by the API
    aliases: tuple   # lower-case names the host also resolves (sd_samplers.samplers_map)
    order: int
    funcname: str    # the solver's function in k_diffusion_ext.SAMPLER_FUNCTIONS
    cfg_pp: bool = False  # CFG++: needs the host's unconditional prediction (see uncond_capture)
    reads_guidance: bool = False  # hands the host's CFG scale to the solver (guidance_scale)


# Released names: never rename, never reorder meanings.
SAMPLERS: tuple[SamplerSpec, ...] = (
    SamplerSpec("ER-SDE-Solver 1", ("er_sde_solver_1",), 1, "sample_er_sde_solver_1"),
    SamplerSpec("ER-SDE-Solver 2", ("er_sde_solver_2",), 2, "sample_er_sde_solver_2"),
    SamplerSpec("ER-SDE-Solver 3", ("er_sde_solver_3",), 3, "sample_er_sde_solver_3"),
)
LABELS: tuple[str, ...] = tuple(spec.label for spec in SAMPLERS)
# Added in 0.2.0, listed only where the host hands a sampler the unconditional prediction.
CFG_PP_SAMPLERS: tuple[SamplerSpec, ...] = (
    SamplerSpec("ER-SDE-Solver 1 CFG++", ("er_sde_solver_1_cfg_pp",), 1, "sample_er_sde_solver_1", True),
    SamplerSpec("ER-SDE-Solver 2 CFG++", ("er_sde_solver_2_cfg_pp",), 2, "sample_er_sde_solver_2", True),
    SamplerSpec("ER-SDE-Solver 3 CFG++", ("er_sde_solver_3_cfg_pp",), 3, "sample_er_sde_solver_3", True),
)
CFG_PP_LABELS: tuple[str, ...] = tuple(spec.label for spec in CFG_PP_SAMPLERS)
# Added in 0.3.0: order and scheme from the CFG scale the host applies and the step plan.
AUTO_SAMPLERS: tuple[SamplerSpec, ...] = (
    SamplerSpec("ER-SDE-Solver Auto", ("er_sde_solver_auto",), 3, "sample_er_sde_solver_auto", reads_guidance=True),
)
AUTO_LABELS: tuple[str, ...] = tuple(spec.label for spec in AUTO_SAMPLERS)

# SamplerData options, read by the host's KDiffusionSampler / processing:
#  scheduler       "Automatic" resolves to Karras (the paper samples on the EDM/Karras schedule)
#  brownian_noise  the host builds its per-seed BrownianTreeNoiseSampler: batch-invariant
#                  noise, like DPM++ SDE / 2M SDE
#  uses_ensd       the fallback noise (host option "no_dpmpp_sde_batch_determinism") comes
#                  from the host's p.rng, whose later draws are seeded with seed + ENSD
SAMPLER_OPTIONS: dict[str, Any] = {"scheduler": "karras", "brownian_noise": True, "uses_ensd": True}

# Host processing parameters the sampler function accepts (the host passes p.s_noise / opts.s_noise).
EXTRA_PARAMS: tuple[str, ...] = ("s_noise",)

# model_sampling classes of flow models: ComfyUI-derived (reForge) and A1111's SD3 (modules/models/sd3).
FLOW_CLASS_NAMES = ("CONST", "ModelSamplingDiscreteFlow")

# A flow model's first sigma of 1 has alpha = 0 (lambda = sigma / alpha infinite): start just below.
FLOW_SIGMA_CEILING = 1.0 - 1e-4


def sampler_options() -> dict[str, Any]:
    """A fresh copy of the options for one SamplerData entry."""
    return dict(SAMPLER_OPTIONS)


def missing_specs(existing_labels: Iterable[str], cfg_pp: bool = False) -> list[SamplerSpec]:
    """The entries not yet registered (dedup by label, so loading twice adds nothing); the
    CFG++ entries too when the host can hand over the unconditional prediction."""
    existing = set(existing_labels)
    specs = SAMPLERS + AUTO_SAMPLERS + (CFG_PP_SAMPLERS if cfg_pp else ())
    return [spec for spec in specs if spec.label not in existing]


# How a WebUI's CFG denoiser (the `model` a k-diffusion sampler gets) can hand over the
# unconditional x0 prediction of each call:
#  Forge, reForge  model.inner_model.inner_model.forge_objects.unet.model_options is read on
#                  every call and goes to the ComfyUI-derived CFG, which runs its
#                  "sampler_post_cfg_function"s with args["uncond_denoised"] (and computes the
#                  unconditional pass at cfg 1 with "disable_cfg1_optimization"), as ComfyUI does.
#  A1111 (1.10)    CFGDenoiser.need_last_noise_uncond = True keeps the unconditional rows of the
#                  inner denoiser's output in last_noise_uncond (x0 predictions on the
#                  k-diffusion path; its DDIM CFG++ uses the same attribute). When the host
#                  skips the unconditional pass (NGMS, skip early CFG) those rows are the
#                  conditional ones, which are then also the guided prediction: a plain step.
UNCOND_VIA_MODEL_OPTIONS = "model_options"
UNCOND_VIA_LAST_NOISE_UNCOND = "last_noise_uncond"


def _forge_unet(model: Any) -> Any:
    sd_model = getattr(getattr(model, "inner_model", None), "inner_model", None)
    return getattr(getattr(sd_model, "forge_objects", None), "unet", None)


def uncond_route(model: Any) -> str | None:
    """Which of the two ways above this denoiser supports (None: neither)."""
    unet = _forge_unet(model)
    if unet is not None and isinstance(getattr(unet, "model_options", None), dict):
        return UNCOND_VIA_MODEL_OPTIONS
    if hasattr(model, "need_last_noise_uncond") and hasattr(model, "last_noise_uncond"):
        return UNCOND_VIA_LAST_NOISE_UNCOND
    return None


class UncondCapture:
    """While active (a context manager), `uncond()` returns the unconditional x0 prediction of
    the latest call of `model`; on exit the host's denoiser is as it was."""

    def __init__(self, model: Any):
        self.model = model
        self.route = uncond_route(model)
        if self.route is None:
            raise ValueError("CFG++ needs the unconditional prediction, and this WebUI's CFG denoiser does not "
                             "hand it to samplers: pick the sampler without CFG++")
        self._captured: list[torch.Tensor | None] = [None]
        self._saved: Any = None

    def _keep(self, args: dict) -> torch.Tensor:
        self._captured[0] = args["uncond_denoised"]
        return args["denoised"]

    def __enter__(self) -> "UncondCapture":
        if self.route == UNCOND_VIA_MODEL_OPTIONS:
            unet = _forge_unet(self.model)
            self._saved = unet.model_options
            options = dict(self._saved)  # a new dict: the host's own is put back untouched
            options["sampler_post_cfg_function"] = list(options.get("sampler_post_cfg_function", [])) + [self._keep]
            options["disable_cfg1_optimization"] = True
            unet.model_options = options
        else:
            self._saved = self.model.need_last_noise_uncond
            self.model.need_last_noise_uncond = True
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.route == UNCOND_VIA_MODEL_OPTIONS:
            _forge_unet(self.model).model_options = self._saved
        else:
            self.model.need_last_noise_uncond = self._saved

    def uncond(self) -> torch.Tensor:
        if self.route == UNCOND_VIA_MODEL_OPTIONS:
            prediction, self._captured[0] = self._captured[0], None
        else:
            prediction = self.model.last_noise_uncond
        if prediction is None:
            raise ValueError("CFG++: the WebUI's CFG ran without handing over the unconditional prediction "
                             "(an extension that replaces CFG?); pick the sampler without CFG++")
        return prediction


def is_flow_prediction(prediction_type: str | None = None, class_names: Iterable[str] = ()) -> bool:
    """Whether a model's noise parametrisation is rectified flow (x = (1 - sigma) x0 + sigma n).

    Forge's backend predictors say so with ``prediction_type == "const"``; ComfyUI-derived
    model_sampling objects (reForge's ldm_patched) have ``CONST`` among their classes; A1111's
    SD3 model samples with its own ``ModelSamplingDiscreteFlow``.
    """
    if isinstance(prediction_type, str) and prediction_type.lower() == "const":
        return True
    return any(name in FLOW_CLASS_NAMES for name in class_names)


def flow_schedule(sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For a flow model: (sigmas with a first sigma >= 1 nudged below 1, alphas = 1 - sigmas)."""
    sigmas = sigmas.clone()
    if float(sigmas[0]) >= FLOW_SIGMA_CEILING:
        sigmas[0] = FLOW_SIGMA_CEILING
    return sigmas, 1 - sigmas


def _class_names(obj: Any) -> list[str]:
    return [cls.__name__ for cls in type(obj).__mro__] if obj is not None else []


def describe_model(model: Any) -> tuple[str | None, list[str]]:
    """Plain values for is_flow_prediction from the denoiser a WebUI hands to a k-diffusion sampler.

    Walks attributes only (no host import): Forge ``model.inner_model.predictor``
    (ForgeScheduleLinker), reForge / A1111-with-Forge-backend
    ``model.inner_model.inner_model.forge_objects.unet.model.{predictor,model_sampling}``,
    A1111's SD3 ``model.inner_model.inner_model.model.model_sampling``.
    """
    candidates = []
    wrap = getattr(model, "inner_model", None)
    candidates.append(getattr(wrap, "predictor", None))
    sd_model = getattr(wrap, "inner_model", None)
    unet = getattr(getattr(sd_model, "forge_objects", None), "unet", None)
    inner = getattr(unet, "model", None)
    candidates.append(getattr(inner, "predictor", None))
    candidates.append(getattr(inner, "model_sampling", None))
    candidates.append(getattr(getattr(sd_model, "model", None), "model_sampling", None))
    for obj in candidates:
        if obj is None:
            continue
        return getattr(obj, "prediction_type", None), _class_names(obj)
    return None, []


def host_rng_noise(model: Any, x: torch.Tensor) -> Callable[[Any, Any], torch.Tensor] | None:
    """Noise from the host's per-image generators (p.rng, seeds + ENSD), as ancestral samplers get."""
    rng = getattr(getattr(model, "p", None), "rng", None)
    if rng is None or not callable(getattr(rng, "next", None)):
        return None

    def noise_sampler(sigma: Any, sigma_next: Any) -> torch.Tensor:
        noise = rng.next()
        return noise.reshape(x.shape).to(device=x.device, dtype=x.dtype)

    return noise_sampler


def _finite(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def host_guidance_scale(model: Any, extra_args: dict | None) -> float | None:
    """The CFG scale the WebUI's CFG denoiser (`model`) applies in this sampling pass; None where
    it cannot be told. A1111, Forge and reForge hand the sampler ``extra_args["cond_scale"]``
    (p.cfg_scale); in the hires pass Forge's and reForge's denoiser applies ``p.hr_cfg`` instead
    (A1111 has no hires cfg and keeps cfg_scale)."""
    p = getattr(model, "p", None)
    if getattr(p, "is_hr_pass", False) is True and hasattr(p, "hr_cfg"):
        return _finite(p.hr_cfg)
    return _finite((extra_args or {}).get("cond_scale"))


def make_sampler_function(solver_function: Callable[..., torch.Tensor], name: str,
                          cfg_pp: bool = False, reads_guidance: bool = False) -> Callable[..., torch.Tensor]:
    """The callable a WebUI's KDiffusionSampler runs for one entry.

    Its signature is what the host inspects: ``sigmas`` (the host passes its schedule),
    ``eta`` (the host's ancestral eta; 0 = the probability-flow ODE), ``s_noise``,
    ``noise_sampler`` (the host's Brownian noise when the entry has brownian_noise).
    No ``n`` / ``sigma_min`` parameters, so the host does not pass them.
    reads_guidance: pass the host's CFG scale (host_guidance_scale) as ``guidance_scale``.
    """

    def sampler(model: Callable[..., torch.Tensor], x: torch.Tensor, sigmas: torch.Tensor,
                extra_args: dict | None = None, callback: Callable[[dict], Any] | None = None,
                disable: bool | None = None, eta: float = 1.0, s_noise: float = 1.0,
                noise_sampler: Callable[[Any, Any], torch.Tensor] | None = None) -> torch.Tensor:
        alphas = None
        prediction_type, class_names = describe_model(model)
        if is_flow_prediction(prediction_type, class_names):
            sigmas, alphas = flow_schedule(sigmas)
        if noise_sampler is None:
            noise_sampler = host_rng_noise(model, x)
        options = {"guidance_scale": host_guidance_scale(model, extra_args)} if reads_guidance else {}
        if not cfg_pp:
            return solver_function(model, x, sigmas, extra_args, callback, disable, eta=float(eta),
                                   s_noise=float(s_noise), noise_sampler=noise_sampler, alphas=alphas, **options)
        with UncondCapture(model) as capture:
            return solver_function(model, x, sigmas, extra_args, callback, disable, eta=float(eta),
                                   s_noise=float(s_noise), noise_sampler=noise_sampler, alphas=alphas,
                                   uncond=capture.uncond)

    sampler.__name__ = sampler.__qualname__ = name
    sampler.__doc__ = solver_function.__doc__
    return sampler


def accepted_parameters(function: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(function).parameters)
