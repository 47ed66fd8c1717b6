"""The nodes in ComfyUI's V3 schema, declared against the API module that entry.py picked
(comfy_api.v0_0_2 where the host has it, else comfy_api.latest). This module imports no
ComfyUI module itself: the API module is passed in."""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

from . import names, specs
from .sampling import ksampler_er_sde, make_sampler


def _v3_input(io: Any, spec: specs.InputSpec) -> Any:
    kind = {
        "MODEL": io.Model, "CONDITIONING": io.Conditioning, "LATENT": io.Latent,
        "INT": io.Int, "FLOAT": io.Float, "STRING": io.String, "BOOLEAN": io.Boolean, "COMBO": io.Combo,
    }[spec.kind]
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


def build_nodes(api: ModuleType) -> list[type]:
    """ERSDESolverSampler and KSamplerERSDE as ``api.io.ComfyNode`` subclasses."""
    io = api.io

    class ERSDESolverSampler(io.ComfyNode):
        @classmethod
        def define_schema(cls) -> Any:
            return io.Schema(
                node_id=names.SAMPLER_NODE_ID,
                display_name=names.SAMPLER_NODE_DISPLAY_NAME,
                category=names.SAMPLER_NODE_CATEGORY,
                description=specs.SAMPLER_DESCRIPTION,
                inputs=[_v3_input(io, s) for s in specs.sampler_node_inputs()],
                outputs=[io.Sampler.Output(tooltip=specs.SAMPLER_OUTPUT_TOOLTIP)],
            )

        @classmethod
        def execute(cls, **inputs: Any) -> Any:
            return io.NodeOutput(make_sampler(**inputs))

    class KSamplerERSDE(io.ComfyNode):
        @classmethod
        def define_schema(cls) -> Any:
            return io.Schema(
                node_id=names.KSAMPLER_NODE_ID,
                display_name=names.KSAMPLER_NODE_DISPLAY_NAME,
                category=names.KSAMPLER_NODE_CATEGORY,
                description=specs.KSAMPLER_DESCRIPTION,
                inputs=[_v3_input(io, s) for s in specs.ksampler_node_inputs()],
                outputs=[io.Latent.Output(tooltip=specs.LATENT_OUTPUT_TOOLTIP)],
            )

        @classmethod
        def execute(cls, **inputs: Any) -> Any:
            return io.NodeOutput(ksampler_er_sde(**inputs))

    return [ERSDESolverSampler, KSamplerERSDE]


def make_entrypoint(api: ModuleType) -> Callable[[], Any]:
    """The ``comfy_entrypoint`` coroutine function ComfyUI's loader awaits."""
    nodes = build_nodes(api)

    class ERSDEExtension(api.ComfyExtension):
        async def get_node_list(self) -> list[type]:
            return list(nodes)

    async def comfy_entrypoint() -> ERSDEExtension:
        return ERSDEExtension()

    comfy_entrypoint.nodes = nodes
    return comfy_entrypoint
