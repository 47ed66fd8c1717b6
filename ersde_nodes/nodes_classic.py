"""The same nodes as classic NODE_CLASS_MAPPINGS, for ComfyUI versions without comfy_api.latest."""
from __future__ import annotations

from typing import Any

from . import names, specs
from .sampling import ksampler_er_sde, make_sampler


def _classic_input(spec: specs.InputSpec) -> tuple:
    options: dict[str, Any] = {"tooltip": spec.tooltip}
    if spec.kind in ("MODEL", "CONDITIONING", "LATENT"):
        return (spec.kind, options)
    if spec.default is not None:
        options["default"] = spec.default
    if spec.kind == "COMBO":
        return (list(spec.options), options)
    for key in ("min", "max", "step"):
        if getattr(spec, key) is not None:
            options[key] = getattr(spec, key)
    options.update(spec.extra)
    return (spec.kind, options)


def _input_types(inputs: list[specs.InputSpec]) -> dict:
    types = {"required": {s.name: _classic_input(s) for s in inputs if not s.optional}}
    optional = {s.name: _classic_input(s) for s in inputs if s.optional}
    if optional:
        types["optional"] = optional
    return types


class ERSDESolverSampler:
    DESCRIPTION = specs.SAMPLER_DESCRIPTION
    CATEGORY = names.SAMPLER_NODE_CATEGORY
    RETURN_TYPES = (names.OUT_SAMPLER,)
    OUTPUT_TOOLTIPS = (specs.SAMPLER_OUTPUT_TOOLTIP,)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return _input_types(specs.sampler_node_inputs())

    def execute(self, **inputs: Any) -> tuple:
        return (make_sampler(**inputs),)


class KSamplerERSDE:
    DESCRIPTION = specs.KSAMPLER_DESCRIPTION
    CATEGORY = names.KSAMPLER_NODE_CATEGORY
    RETURN_TYPES = (names.OUT_LATENT,)
    OUTPUT_TOOLTIPS = (specs.LATENT_OUTPUT_TOOLTIP,)
    FUNCTION = "execute"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return _input_types(specs.ksampler_node_inputs())

    def execute(self, **inputs: Any) -> tuple:
        return (ksampler_er_sde(**inputs),)


NODE_CLASS_MAPPINGS = {
    names.SAMPLER_NODE_ID: ERSDESolverSampler,
    names.KSAMPLER_NODE_ID: KSamplerERSDE,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    names.SAMPLER_NODE_ID: names.SAMPLER_NODE_DISPLAY_NAME,
    names.KSAMPLER_NODE_ID: names.KSAMPLER_NODE_DISPLAY_NAME,
}
