"""ER-SDE-Solver 1/2/3 and Auto for AUTOMATIC1111-family WebUIs (Forge, reForge, A1111) and SD.Next.

The WebUI loads every ``extensions/<folder>/scripts/*.py`` by file path under a generic
module name. At load this script adds "ER-SDE-Solver 1/2/3", "ER-SDE-Solver Auto" (order and
scheme from the CFG scale the host hands the sampler) (and "ER-SDE-Solver 1/2/3 CFG++"
where the host hands samplers the unconditional prediction) to the host's sampler list
(dropdown and the txt2img/img2img API): through ``sd_samplers.add_sampler`` where the host
has it (Forge), else through SamplerData + ``all_samplers`` + ``set_samplers()``. Loading it
again (UI reload, a second copy of the folder) adds nothing.

SD.Next (diffusers-based, recognised by its ``modules.sd_samplers_diffusers``) gets the same
names as diffusers scheduler entries instead (``ersde_webui/sdnext.py``, ersde_diffusers'
ERSDESolverScheduler), plus their "FlowMatch" variants.

It imports no ComfyUI module; the ComfyUI entry (the folder's ``__init__.py``) imports no
WebUI module. The solver package is loaded from this folder by path under a unique name,
so neither sys.path nor another installed copy of k_diffusion_ext is involved.
"""
from __future__ import annotations

import importlib.util
import os
import sys

_EXTENSION_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_by_path(name: str, path: str, package_dir: str | None = None):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[package_dir] if package_dir else None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


glue = _load_by_path("er_sde_nodes_webui_glue", os.path.join(_EXTENSION_ROOT, "scripts", "ersde_webui", "glue.py"))
solver = _load_by_path(glue.SOLVER_MODULE_NAME, os.path.join(_EXTENSION_ROOT, "k_diffusion_ext", "__init__.py"),
                       os.path.join(_EXTENSION_ROOT, "k_diffusion_ext"))


def _constructor(spec):
    from modules import sd_samplers_kdiffusion

    name = spec.funcname + ("_cfg_pp" if spec.cfg_pp else "")  # sample_er_sde_solver_N[_cfg_pp] / _auto
    function = glue.make_sampler_function(solver.SAMPLER_FUNCTIONS[spec.funcname], name, cfg_pp=spec.cfg_pp,
                                          reads_guidance=spec.reads_guidance)

    def construct(model):
        sampler = sd_samplers_kdiffusion.KDiffusionSampler(function, model)
        sampler.extra_params = list(glue.EXTRA_PARAMS)
        return sampler

    construct.sampler_function = function
    return construct


def host_hands_uncond() -> bool:
    """Whether this WebUI's CFG denoiser can hand samplers the unconditional prediction (see
    glue.uncond_route): Forge and reForge through the Forge unet's model_options, A1111 1.10+
    through CFGDenoiser.need_last_noise_uncond. Older hosts get no CFG++ entries."""
    try:
        import modules_forge  # noqa: F401  (Forge, reForge)
        return True
    except ImportError:
        pass
    try:
        import inspect
        from modules import sd_samplers_cfg_denoiser
        return "need_last_noise_uncond" in inspect.getsource(sd_samplers_cfg_denoiser.CFGDenoiser.__init__)
    except Exception:
        return False


def register_samplers():
    """Add the missing ER-SDE entries to the host's sampler list; returns the labels added."""
    from modules import sd_samplers, sd_samplers_common

    new = [sd_samplers_common.SamplerData(spec.label, _constructor(spec), list(spec.aliases), glue.sampler_options())
           for spec in glue.missing_specs((s.name for s in sd_samplers.all_samplers), cfg_pp=host_hands_uncond())]
    if not new:
        return []
    add_sampler = getattr(sd_samplers, "add_sampler", None)
    if callable(add_sampler):  # Forge
        for data in new:
            add_sampler(data)
    else:  # A1111, reForge: the lists and maps are module globals, extended in place
        sd_samplers.all_samplers.extend(new)
        sd_samplers.all_samplers_map.update({data.name: data for data in new})
        sd_samplers.set_samplers()
    cached = getattr(sd_samplers, "get_sampler_and_scheduler", None)
    if hasattr(cached, "cache_clear"):  # infotext parsing may have cached a fallback for our labels
        cached.cache_clear()
    return [data.name for data in new]


def _register_functions_on_host_k_diffusion():
    """Also expose sample_er_sde_solver_1/2/3 on the host's k-diffusion copy, for other extensions."""
    for module_name in ("k_diffusion.sampling", "k_diff.k_diffusion.sampling", "ldm_patched.k_diffusion.sampling"):
        module = sys.modules.get(module_name)
        if module is not None:
            solver.register(module)


def host_is_sdnext() -> bool:
    """SD.Next lists diffusers schedulers in modules.sd_samplers_diffusers; no A1111-family WebUI has it."""
    return importlib.util.find_spec("modules.sd_samplers_diffusers") is not None


def register_sdnext_samplers():
    sdnext = _load_by_path("er_sde_nodes_webui_sdnext", os.path.join(_EXTENSION_ROOT, "scripts", "ersde_webui", "sdnext.py"))
    sdnext.track_jobs()  # ER-SDE-Solver Auto reads the CFG scale of the job in progress
    return sdnext.register_samplers(sdnext.load_scheduler_class(_EXTENSION_ROOT, solver),
                                    glue.SAMPLERS + glue.AUTO_SAMPLERS)


try:
    if host_is_sdnext():
        registered = register_sdnext_samplers()
    else:
        registered = register_samplers()
        _register_functions_on_host_k_diffusion()
except ModuleNotFoundError as error:
    if error.name != "modules":  # inside a WebUI, something else is missing: say so loudly
        raise
    registered = []  # not inside a WebUI (plain import, ComfyUI scanning the folder): nothing to do
    print("[ER-SDE] no WebUI 'modules' package: WebUI samplers not registered", file=sys.stderr)
