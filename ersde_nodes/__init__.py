"""ComfyUI adapter of the ER-SDE node pack.

Modules:
    names         every name stored in workflows (node ids, inputs, sampler names); no host import
    model_type    which alpha a ComfyUI model needs (flow: 1 - sigma, else 1)
    sampling      the ComfyUI-aware sampler function, SAMPLER objects, the KSampler path
    registration  adds er_sde_solver_1/2/3 to ComfyUI's sampler lists and sampling module
    specs         the nodes' inputs (names, types, defaults, tooltips), shared by both node styles
    nodes_v3      the nodes in ComfyUI's V3 schema (comfy_api.v0_0_2, else comfy_api.latest)
    nodes_classic the same nodes as classic NODE_CLASS_MAPPINGS, for hosts without V3
    entry         what the repository's root __init__ exports to ComfyUI

Importing this package imports no host module; the submodules that need ComfyUI import
it when they are used, so `import ersde_nodes` works anywhere.
"""
