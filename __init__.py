"""ComfyUI entry point of the ER-SDE node pack.

ComfyUI imports this folder as a package (named after the folder, whatever it was cloned
as), after its own modules are loaded. Then this module registers er_sde_solver_1/2/3 in
the KSampler dropdowns and exports the nodes: `comfy_entrypoint` on hosts with the V3 node
API, `NODE_CLASS_MAPPINGS` / `NODE_DISPLAY_NAME_MAPPINGS` on older ones (never both: the
loader prefers the mappings when it finds them).

Imported anywhere else (pytest, a WebUI, a plain import), it does nothing and imports
no ComfyUI or WebUI module: the adapter is only loaded when ComfyUI's sampler module is
already imported, which ComfyUI does before it loads custom nodes.
"""
import sys

if "comfy.samplers" in sys.modules:
    from .ersde_nodes.entry import comfy_exports as _comfy_exports

    globals().update(_comfy_exports())
    del _comfy_exports

del sys
