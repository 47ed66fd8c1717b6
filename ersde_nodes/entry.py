"""What the repository's root __init__.py hands ComfyUI.

ComfyUI's custom-node loader uses NODE_CLASS_MAPPINGS when a module has it and
comfy_entrypoint (V3) only otherwise, so exactly one of the two is exported.

The V3 nodes are declared against a versioned node API, so that a later host that changes
``comfy_api.latest`` keeps loading them: the first module of V3_API_MODULES that the host
has and that offers the V3 node classes wins; a host with none of them gets the classic
mappings. A new ComfyUI API version is adopted by putting its module first in the list
(after checking the nodes against it), never by editing the node declarations.
"""
from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import Any, Iterable

from .registration import register_samplers

logger = logging.getLogger(__name__)

# Oldest pinned version first: it is the contract the nodes were written against.
V3_API_MODULES: tuple[str, ...] = ("comfy_api.v0_0_2", "comfy_api.latest")


def _v3_api_ok(module: ModuleType) -> bool:
    io = getattr(module, "io", None)
    return (getattr(module, "ComfyExtension", None) is not None
            and all(hasattr(io, name) for name in ("ComfyNode", "Schema", "NodeOutput")))


def find_v3_api(candidates: Iterable[str] = V3_API_MODULES) -> ModuleType | None:
    """The host's V3 API module to declare the nodes against, or None (classic mappings)."""
    for name in candidates:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if _v3_api_ok(module):
            return module
        logger.warning("ER-SDE: %s lacks the V3 node classes the nodes need; trying the next API", name)
    return None


def comfy_exports(candidates: Iterable[str] = V3_API_MODULES) -> dict[str, Any]:
    """Register the sampler names, then the module attributes that declare the nodes."""
    register_samplers()
    api = find_v3_api(candidates)
    if api is not None:
        from .nodes_v3 import make_entrypoint
        logger.info("ER-SDE: nodes declared against %s", api.__name__)
        return {"comfy_entrypoint": make_entrypoint(api), "ERSDE_NODE_API": api.__name__}
    from .nodes_classic import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
    logger.info("ER-SDE: no V3 node API (%s) on this host: classic node mappings", ", ".join(candidates))
    return {"NODE_CLASS_MAPPINGS": NODE_CLASS_MAPPINGS, "NODE_DISPLAY_NAME_MAPPINGS": NODE_DISPLAY_NAME_MAPPINGS,
            "ERSDE_NODE_API": "classic"}
