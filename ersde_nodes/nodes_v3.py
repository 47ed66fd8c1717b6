"""The nodes in ComfyUI's V3 schema (comfy_api.latest). Importing this module needs a host
with comfy_api.latest; entry.py falls back to nodes_classic where there is none."""
from __future__ import annotations

from typing import Any

from comfy_api.latest import ComfyExtension, io

from . import names, specs
from .sampling import ksampler_er_sde, make_sampler

_INPUT_TYPES = {
    "MODEL": io.Model, "CONDITIONING": io.Conditioning, "LATENT": io.Latent,
    "INT": io.Int, "FLOAT": io.Float, "STRING": io.String, "BOOLEAN": io.Boolean, "COMBO": io.Combo,
}


def _v3_input(spec: specs.InputSpec) -> Any:
    kind = _INPUT_TYPES[spec.kind]
    if spec.kind in ("MODEL", "CONDITIONING", "LATENT"):
        return kind.Input(spec.name, tooltip=spec.tooltip)
    if spec.kind == "COMBO":
        return kind.Input(spec.name, options=list(spec.options), default=spec.default, tooltip=spec.tooltip)
    if spec.kind == "STRING":
        return kind.Input(spec.name, default=spec.default, multiline=False, tooltip=spec.tooltip)
    if spec.kind == "BOOLEAN":
        return kind.Input(spec.name, default=spec.default, tooltip=spec.tooltip, optional=spec.optional)
    return kind.Input(spec.name, default=spec.default, min=spec.min, max=spec.max, step=spec.step,
                      tooltip=spec.tooltip, **spec.extra)


class ERSDESolverSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=names.SAMPLER_NODE_ID,
            display_name=names.SAMPLER_NODE_DISPLAY_NAME,
            category=names.SAMPLER_NODE_CATEGORY,
            description=specs.SAMPLER_DESCRIPTION,
            inputs=[_v3_input(s) for s in specs.sampler_node_inputs()],
            outputs=[io.Sampler.Output(tooltip=specs.SAMPLER_OUTPUT_TOOLTIP)],
        )

    @classmethod
    def execute(cls, **inputs: Any) -> io.NodeOutput:
        return io.NodeOutput(make_sampler(**inputs))


class KSamplerERSDE(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id=names.KSAMPLER_NODE_ID,
            display_name=names.KSAMPLER_NODE_DISPLAY_NAME,
            category=names.KSAMPLER_NODE_CATEGORY,
            description=specs.KSAMPLER_DESCRIPTION,
            inputs=[_v3_input(s) for s in specs.ksampler_node_inputs()],
            outputs=[io.Latent.Output(tooltip=specs.LATENT_OUTPUT_TOOLTIP)],
        )

    @classmethod
    def execute(cls, **inputs: Any) -> io.NodeOutput:
        return io.NodeOutput(ksampler_er_sde(**inputs))


NODES: list[type[io.ComfyNode]] = [ERSDESolverSampler, KSamplerERSDE]


class ERSDEExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> ERSDEExtension:
    return ERSDEExtension()
