"""Every name that saved workflows store: node ids, display names, input names and their
order, combo values, sampler names.

These are a promise to people's workflows and to the metadata in their images: once
released they never change. New behaviour gets a new optional input (with a default that
keeps old graphs identical) or a new combo value, never a rename or a reorder.
This module imports nothing from a host, so it is safe to import anywhere.
"""
from __future__ import annotations

# Names in the stock KSampler / KSamplerAdvanced / KSamplerSelect dropdowns.
# comfy.k_diffusion.sampling gets a function "sample_" + name for each.
SAMPLER_NAME_BY_ORDER: dict[int, str] = {1: "er_sde_solver_1", 2: "er_sde_solver_2", 3: "er_sde_solver_3"}
# CFG++ (guided data term, unconditional re-noising direction); added in 0.2.0.
CFG_PP_SAMPLER_NAME_BY_ORDER: dict[int, str] = {
    1: "er_sde_solver_1_cfg_pp", 2: "er_sde_solver_2_cfg_pp", 3: "er_sde_solver_3_cfg_pp"}
# Added in 0.3.0: order and scheme chosen from the cfg the host applies and the step plan
# (k_diffusion_ext.auto_choice); its choices are pinned per release (CHANGELOG.md).
AUTO_SAMPLER_NAME = "er_sde_solver_auto"
SAMPLER_NAMES: tuple[str, ...] = (tuple(SAMPLER_NAME_BY_ORDER.values())
                                  + tuple(CFG_PP_SAMPLER_NAME_BY_ORDER.values()) + (AUTO_SAMPLER_NAME,))

# Node ids (NODE_CLASS_MAPPINGS keys / V3 node_id) and display names. The built-in
# ComfyUI node for the paper's code is "SamplerER_SDE"; these are distinct from it.
SAMPLER_NODE_ID = "ERSDESolverSampler"
SAMPLER_NODE_DISPLAY_NAME = "ER-SDE-Solver Sampler"
KSAMPLER_NODE_ID = "KSamplerERSDE"
KSAMPLER_NODE_DISPLAY_NAME = "KSampler (ER-SDE)"

SAMPLER_NODE_CATEGORY = "sampling/custom_sampling/samplers"
KSAMPLER_NODE_CATEGORY = "sampling"

# Input names of the ER-SDE knobs, in the order both nodes show them.
IN_ORDER = "order"
IN_NOISE_SCALE = "noise_scale"
IN_CUSTOM_NOISE_SCALE = "custom_noise_scale"
IN_ETA = "eta"
IN_S_NOISE = "s_noise"
IN_NOISE_TYPE = "noise_type"
IN_SCHEME = "scheme"
IN_CFG_PP = "cfg_pp"  # added in 0.2.0: optional, last, default False (0.1.0 graphs unchanged)
ER_SDE_INPUTS: tuple[str, ...] = (
    IN_ORDER, IN_NOISE_SCALE, IN_CUSTOM_NOISE_SCALE, IN_ETA, IN_S_NOISE, IN_NOISE_TYPE, IN_SCHEME, IN_CFG_PP,
)
# Inputs added after 0.1.0, each optional with a default that reproduces the older graphs:
# saved workflows may lack them (UI files then have fewer widget values).
OPTIONAL_INPUTS: tuple[str, ...] = (IN_CFG_PP,)

# The stock KSampler's inputs that "KSampler (ER-SDE)" repeats, in its order (less sampler_name),
# followed by ER_SDE_INPUTS.
IN_MODEL = "model"
IN_SEED = "seed"
IN_STEPS = "steps"
IN_CFG = "cfg"
IN_SCHEDULER = "scheduler"
IN_POSITIVE = "positive"
IN_NEGATIVE = "negative"
IN_LATENT_IMAGE = "latent_image"
IN_DENOISE = "denoise"
KSAMPLER_INPUTS: tuple[str, ...] = (
    IN_MODEL, IN_SEED, IN_STEPS, IN_CFG, IN_SCHEDULER, IN_POSITIVE, IN_NEGATIVE, IN_LATENT_IMAGE, IN_DENOISE,
) + ER_SDE_INPUTS
SAMPLER_INPUTS: tuple[str, ...] = ER_SDE_INPUTS

# Output names.
OUT_SAMPLER = "SAMPLER"
OUT_LATENT = "LATENT"

# Combo values. The noise-scale values are k_diffusion_ext.NOISE_SCALES' names plus CUSTOM;
# a new name there becomes a new value here (values are only ever added).
CUSTOM = "custom"
NOISE_GAUSSIAN = "gaussian"
NOISE_BROWNIAN = "brownian"
NOISE_COMFYUI = "comfyui"  # added after 0.2.0: ComfyUI's own noise, as its built-in er_sde draws it
NOISE_TYPES: tuple[str, ...] = (NOISE_GAUSSIAN, NOISE_BROWNIAN, NOISE_COMFYUI)
SCHEME_CORRECTED = "corrected"
SCHEME_REFERENCE = "reference"
SCHEME_PREDICTOR_CORRECTOR = "predictor_corrector"
SCHEME_AUTO = "auto"
SCHEMES: tuple[str, ...] = (SCHEME_CORRECTED, SCHEME_REFERENCE, SCHEME_PREDICTOR_CORRECTOR, SCHEME_AUTO)
DEFAULT_CUSTOM_EXPRESSION = "x * (exp(x**0.3) + 10)"
