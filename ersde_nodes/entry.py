"""What the repository's root __init__.py hands ComfyUI.

ComfyUI's custom-node loader uses NODE_CLASS_MAPPINGS when a module has it and
comfy_entrypoint (V3) only otherwise, so exactly one of the two is exported:
comfy_entrypoint where the host has comfy_api.latest, the classic mappings where it does not.
"""
from __future__ import annotations

import logging
from typing import Any

from .registration import register_samplers

logger = logging.getLogger(__name__)


def has_v3_api() -> bool:
    try:
        from comfy_api.latest import ComfyExtension, io  # noqa: F401
    except ImportError:
        return False
    return hasattr(io, "ComfyNode") and hasattr(io, "Schema")


def comfy_exports() -> dict[str, Any]:
    """Register the sampler names, then the module attributes that declare the nodes."""
    register_samplers()
    if has_v3_api():
        from .nodes_v3 import comfy_entrypoint
        return {"comfy_entrypoint": comfy_entrypoint}
    from .nodes_classic import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
    return {"NODE_CLASS_MAPPINGS": NODE_CLASS_MAPPINGS, "NODE_DISPLAY_NAME_MAPPINGS": NODE_DISPLAY_NAME_MAPPINGS}
