"""The nodes' inputs, once: name, type, default, range and tooltip. nodes_v3 and
nodes_classic both build their inputs from these lists, so both styles offer the same
inputs in the same order (names.py holds the names themselves)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import names
from ._solver import solver


@dataclass(frozen=True)
class InputSpec:
    name: str
    kind: str  # MODEL, CONDITIONING, LATENT, INT, FLOAT, STRING, BOOLEAN, COMBO
    tooltip: str
    default: Any = None
    options: tuple = ()
    min: float | None = None
    max: float | None = None
    step: float | None = None
    extra: dict = field(default_factory=dict)
    optional: bool = False  # inputs added after 0.1.0: graphs saved without them keep working


NOISE_SCALE_OPTIONS: tuple[str, ...] = tuple(solver.NOISE_SCALES) + (names.CUSTOM,)

SAMPLER_DESCRIPTION = (
    "ER-SDE-Solver (Cui et al. 2023, arXiv 2309.06169) as a SAMPLER for SamplerCustom / "
    "SamplerCustomAdvanced: one model call a step, orders 1-3, a choice of noise-scale functions. "
    "Flow models (SD3, Flux) are detected and handled.")
KSAMPLER_DESCRIPTION = (
    "The stock KSampler with the ER-SDE-Solver and its settings: same seed, schedule, denoise, "
    "previews, noise masks (inpainting) and model patches as KSampler.")


CFG_PP_TOOLTIP = (
    "CFG++ (Chung et al. 2024): each step keeps the guided prediction as its data term but re-noises along the "
    "unconditional model's noise, which keeps samples closer to the data at low guidance. Use a much lower cfg "
    "than usual, about 0.5 to 2 instead of 5 to 8: CFG++ at cfg g guides about as strongly as plain CFG at "
    "2 g with 10 steps, 3.5 g with 20 steps and 8 g with 50 steps (the paper's default noise scale). "
    "Off: plain CFG, as before.")


def er_sde_inputs() -> list[InputSpec]:
    return [
        InputSpec(names.IN_ORDER, "INT",
                  "Solver order, 1 to 3. Higher orders reuse earlier steps' predictions to be more accurate at "
                  "the same number of model calls; 3 is the paper's ER-SDE-Solver-3.",
                  default=3, min=1, max=3, step=1),
        InputSpec(names.IN_NOISE_SCALE, "COMBO",
                  "The noise-scale function phi, which sets how much fresh noise each step injects. "
                  "paper_default: SDE-like at high noise, ODE-like at low noise (the paper's choice). "
                  "ode: no noise, deterministic. reverse_sde: the classical reverse-time SDE. "
                  "exp_neg_inv, power_1.5, power_2.5, log_mix: the paper's other functions. "
                  f"custom: the expression in {names.IN_CUSTOM_NOISE_SCALE}.",
                  default=solver.DEFAULT_NOISE_SCALE, options=NOISE_SCALE_OPTIONS),
        InputSpec(names.IN_CUSTOM_NOISE_SCALE, "STRING",
                  f"Used only when {names.IN_NOISE_SCALE} is custom: phi as an expression in x (x = sigma / alpha), "
                  "with numbers, x, pi, e, + - * / ** and exp, expm1, log, log1p, log2, log10, sqrt, abs, tanh, sinh, "
                  "cosh, atan, sigmoid. phi must be > 0 with phi(x)/x never decreasing. Read safely, never run as code.",
                  default=names.DEFAULT_CUSTOM_EXPRESSION),
        InputSpec(names.IN_ETA, "FLOAT",
                  "Strength of the injected noise that keeps the noise scale's shape: "
                  "psi(x) = x^(1 - eta) * phi(x)^eta. 0 = deterministic ODE, 1 = the noise scale as chosen, "
                  "above 1 = more noise.",
                  default=1.0, min=0.0, max=10.0, step=0.01),
        InputSpec(names.IN_S_NOISE, "FLOAT",
                  "Multiplies the injected noise only (1 = as the math prescribes; 0 removes it without "
                  "changing the deterministic part).",
                  default=1.0, min=0.0, max=10.0, step=0.01),
        InputSpec(names.IN_NOISE_TYPE, "COMBO",
                  "gaussian: fresh Gaussian noise each step, drawn per image from the seed (image i of a batch "
                  "equals a batch-of-one run with seed + i). brownian: one Brownian path per image, so a different "
                  "step count keeps a similar image. Both are computed on the latent's device, the same on every device. "
                  "comfyui: ComfyUI's own noise, drawn for the whole batch as its er_sde sampler draws it (it depends on "
                  "the batch size and the device): with scheme reference, order 3, noise_scale paper_default and eta 1 "
                  "the image is stock KSampler's er_sde at the same seed, steps, cfg, scheduler and denoise, up to "
                  "er_sde's numerical integration (about 1e-4 to 1e-3 of the latent's range).",
                  default=names.NOISE_GAUSSIAN, options=names.NOISE_TYPES),
        InputSpec(names.IN_SCHEME, "COMBO",
                  "corrected: exact integrals and a corrected derivative estimate, so order 3 is truly third order. "
                  "reference: the paper's code and ComfyUI's built-in er_sde (order 3 converges like order 2), "
                  "to reproduce their results. predictor_corrector: corrected, and each step redone through the "
                  "prediction at its end at no extra model call (order k becomes k + 1): more accurate unguided "
                  "and up to CFG 3, less accurate at strong guidance (see docs/benchmarks.md#where-it-wins-where-it-loses). "
                  "auto: picks order and scheme from the sampler's cfg, steps and noise: the setting that "
                  "measured safest across every benchmark model there, never worse than order 3 corrected "
                  "(or er_sde). With CFG++ or an unknown cfg: the same over cfg 1-10 (docs/guidance.md).",
                  default=names.SCHEME_CORRECTED, options=names.SCHEMES),
        InputSpec(names.IN_CFG_PP, "BOOLEAN", CFG_PP_TOOLTIP, default=False, optional=True),
    ]


def sampler_node_inputs() -> list[InputSpec]:
    return er_sde_inputs()


def ksampler_node_inputs() -> list[InputSpec]:
    import comfy.samplers  # the host's scheduler list, read when the node's schema is built
    schedulers = tuple(comfy.samplers.KSampler.SCHEDULERS)
    return [
        InputSpec(names.IN_MODEL, "MODEL", "The model used for denoising the input latent."),
        InputSpec(names.IN_SEED, "INT",
                  "The random seed: it makes the starting noise and the noise the solver injects at each step.",
                  default=0, min=0, max=0xFFFFFFFFFFFFFFFF, extra={"control_after_generate": True}),
        InputSpec(names.IN_STEPS, "INT", "The number of steps; each step is one model call.",
                  default=20, min=1, max=10000),
        InputSpec(names.IN_CFG, "FLOAT",
                  "Classifier-free guidance scale: higher follows the prompt more closely, too high hurts quality.",
                  default=8.0, min=0.0, max=100.0, step=0.1, extra={"round": 0.01}),
        InputSpec(names.IN_SCHEDULER, "COMBO", "The scheduler that places the noise levels (sigmas) of the steps.",
                  default=schedulers[0] if schedulers else None, options=schedulers),
        InputSpec(names.IN_POSITIVE, "CONDITIONING", "The conditioning describing what to include in the image."),
        InputSpec(names.IN_NEGATIVE, "CONDITIONING", "The conditioning describing what to exclude from the image."),
        InputSpec(names.IN_LATENT_IMAGE, "LATENT", "The latent image to denoise (a noise mask on it limits where)."),
        InputSpec(names.IN_DENOISE, "FLOAT",
                  "How much of the schedule to run: 1.0 starts from pure noise, lower values keep more of the "
                  "input latent (image to image).",
                  default=1.0, min=0.0, max=1.0, step=0.01),
    ] + er_sde_inputs()


SAMPLER_OUTPUT_TOOLTIP = "The ER-SDE-Solver sampler, for SamplerCustom or SamplerCustomAdvanced."
LATENT_OUTPUT_TOOLTIP = "The denoised latent."
