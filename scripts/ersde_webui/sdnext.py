"""ER-SDE-Solver entries in SD.Next's sampler dropdown.

SD.Next is diffusers-based: every entry of its sampler list is a diffusers scheduler, listed in
``modules.sd_samplers_diffusers`` (``samplers_data_diffusers``: SamplerData rows whose constructor
builds a ``DiffusionSampler(name, SchedulerClass, model)``; ``config[name]``: the entry's scheduler
defaults). ``modules.sd_samplers.list_samplers()`` copies that list into ``all_samplers`` (at startup,
before extensions load, and again for the API's sampler list), so our rows go into both.

The entry script ``scripts/er_sde_samplers.py`` loads this file by path under MODULE_NAME when the
host is SD.Next; the A1111 family never imports it. No SD.Next module is imported at module level.

Each solver order gets two rows, named the way SD.Next names its flow-matching variants:
"ER-SDE-Solver 3" (VP models) and "ER-SDE-Solver 3 FlowMatch" (flow models). SD.Next itself picks
between them: ``create_sampler`` redirects "<name>" to "<name> FlowMatch" when the model's own
scheduler is a flow scheduler, and ``DiffusionSampler`` sets ``prediction_type="flow_prediction"``
for names containing "Flow". SD.Next's own "ER-SDE ..." rows (its port) are left as they are.

"ER-SDE-Solver Auto" (and its FlowMatch row) runs the scheduler with scheme "auto", which needs the
CFG scale the pipeline applies. A scheduler never sees the pipeline call, so the processing job in
progress is tracked through SD.Next's before/after-process callbacks, and each time SD.Next builds
the scheduler (per pass: update_sampler, the hires pass included) the row's ``guidance_scale`` is
set from that job first (pipeline_guidance).
"""
from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import math
import sys
import types
import weakref
from typing import Any, Callable, Iterable, NamedTuple

MODULE_NAME = "er_sde_nodes_webui_sdnext"
# The extension folder as a package under a unique name: ersde_diffusers imports its sibling
# k_diffusion_ext relatively, and so finds this folder's copy (no sys.path, no installed copy).
PACKAGE_NAME = "er_sde_nodes_webui_package"

FLOW_SUFFIX = " FlowMatch"
SEPARATOR = "── ER-SDE-Solver ──"  # a divider row like SD.Next's own ("── ER-SDE ──")
AFTER = "ER-SDE 3M FlowMatch"  # the last row of SD.Next's ER-SDE group: ours follow it
LAST = "Same as primary"  # SD.Next keeps this row last


class Entry(NamedTuple):
    label: str      # shown in the dropdown, written to the image's metadata: never renamed
    aliases: tuple  # names SD.Next's find_sampler also accepts
    order: int      # the scheduler's solver_order
    flow: bool      # the flow-matching row
    auto: bool = False  # scheme "auto" with the job's CFG scale (glue.SamplerSpec.reads_guidance)


def entries(specs: Iterable[Any]) -> list[Entry]:
    """The rows for glue's specs: each for VP models, then each for flow models."""
    specs = list(specs)
    return ([Entry(spec.label, tuple(spec.aliases), spec.order, False, spec.reads_guidance) for spec in specs]
            + [Entry(spec.label + FLOW_SUFFIX, (), spec.order, True, spec.reads_guidance) for spec in specs])


def scheduler_config(entry: Entry) -> dict[str, Any]:
    """The entry's row in ``sd_samplers_diffusers.config``.

    DiffusionSampler starts from ``config["All"]`` (num_train_timesteps, beta_*, prediction_type,
    where the loaded model's own scheduler config wins), applies this row, then SD.Next's sampler
    settings to the keys present here: "Sigma algorithm" (use_karras / exponential / beta / flow
    sigmas), "Sampler shift" and dynamic shift (flow_shift, use_dynamic_shifting, base / max shift),
    "Solver order", "Timestep spacing", "Rescale betas", the prediction-type override; it drops
    every key the scheduler's __init__ does not take.

    The FlowMatch rows sample flow models through prediction_type="flow_prediction" (set by SD.Next
    from the name). use_flow_sigmas stays off here, as in SD.Next's own rows: SD.Next turns it on
    for its flow model types under the default sigma algorithm (the schedule then comes from the
    scheduler, shifted by "Sampler shift"); otherwise the pipeline hands over its own sigmas.
    """
    config: dict[str, Any] = {
        "solver_order": entry.order, "use_karras_sigmas": False, "use_exponential_sigmas": False,
        "use_beta_sigmas": False, "use_flow_sigmas": False, "final_sigmas_type": "zero",
        "timestep_spacing": "linspace", "steps_offset": 0, "rescale_betas_zero_snr": False,
    }
    if entry.flow:
        config.update({"flow_shift": 1.0, "use_dynamic_shifting": False, "base_shift": 0.5, "max_shift": 1.15})
    if entry.auto:
        config.update({"scheme": "auto", "guidance_scale": None})  # set per pass (auto_constructor)
    return config


# The processing job in progress (a weak reference: the job owns its images), set and cleared by
# SD.Next's before/after-process callbacks (track_jobs).
_job: list[Callable[[], Any] | None] = [None]


def _started(p: Any) -> None:
    _job[0] = weakref.ref(p)


def _ended(p: Any) -> None:
    _job[0] = None


def track_jobs() -> None:
    """Follow SD.Next's processing jobs; once per interpreter (a reloaded script adds nothing)."""
    from modules import script_callbacks
    registered = [c.callback for c in script_callbacks.callback_map.get("callbacks_before_process", [])]
    if not any(getattr(c, "__qualname__", None) == _started.__qualname__ and getattr(c, "__module__", None) == __name__
               for c in registered):
        script_callbacks.on_before_process(_started)
        script_callbacks.on_after_process(_ended)


def current_job() -> Any:
    return _job[0]() if _job[0] is not None else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def pipeline_guidance(p: Any, pipeline: Any) -> float | None:
    """The classifier-free guidance scale SD.Next's call of `pipeline` applies for job `p` (None: unknown).

    processing_diffusers hands the pipeline ``guidance_scale = p.cfg_scale`` (in the hires pass
    ``p.cfg_image`` where set) and ``true_cfg_scale = p.cfg_true``. Pipelines that take
    ``true_cfg_scale`` (Flux, Qwen-Image) apply CFG with that one only (above 1), their
    ``guidance_scale`` being a distilled-guidance input; SD.Next forces distilled models to 1."""
    if p is None or pipeline is None:
        return None
    try:
        parameters = inspect.signature(type(pipeline).__call__).parameters
    except (TypeError, ValueError):
        return None
    if getattr(getattr(pipeline, "config", None), "is_distilled", False):
        return 1.0
    if "true_cfg_scale" in parameters:
        true_cfg = _number(getattr(p, "cfg_true", None))
        return true_cfg if true_cfg is not None and true_cfg > 1 else 1.0
    if "guidance_scale" not in parameters:
        return None
    scale = _number(getattr(p, "cfg_scale", None))
    image_scale = _number(getattr(p, "cfg_image", None))
    if getattr(p, "is_hr_pass", False) and image_scale is not None and image_scale > -1:
        scale = image_scale
    if scale is None or scale <= -1:
        return None  # SD.Next then leaves the pipeline's default
    return max(scale, 1.0)  # at or below 1 the pipelines skip the unconditional pass


def load_scheduler_class(extension_root: str, solver: types.ModuleType) -> type:
    """ERSDESolverScheduler from this extension folder's ersde_diffusers, loaded as a subpackage of
    PACKAGE_NAME, so that its relative import of k_diffusion_ext finds `solver` (the copy the entry
    script loaded by path)."""
    package = sys.modules.get(PACKAGE_NAME)
    if package is None:
        package = types.ModuleType(PACKAGE_NAME)
        package.__path__ = [extension_root]
        package.__spec__ = importlib.machinery.ModuleSpec(PACKAGE_NAME, None, is_package=True)
        package.__spec__.submodule_search_locations = [extension_root]
        sys.modules[PACKAGE_NAME] = package
    sys.modules.setdefault(f"{PACKAGE_NAME}.k_diffusion_ext", solver)
    package.k_diffusion_ext = sys.modules[f"{PACKAGE_NAME}.k_diffusion_ext"]
    return importlib.import_module(f"{PACKAGE_NAME}.ersde_diffusers").ERSDESolverScheduler


def _position(rows: list, ours: set[str]) -> int:
    """Where new rows go: after our rows already there, else after SD.Next's ER-SDE group, else
    before SD.Next's last row, else at the end."""
    names = [row.name for row in rows]
    for anchor in [name for name in names if name in ours][-1:] + [AFTER]:
        if anchor in names:
            return names.index(anchor) + 1
    return names.index(LAST) if LAST in names else len(names)


def _insert(rows: list, new: list) -> None:
    ours = {row.name for row in new}
    position = _position(rows, ours)
    rows[position:position] = [row for row in new if row.name not in {r.name for r in rows}]


def register_samplers(scheduler_class: type, specs: Iterable[Any]) -> list[str]:
    """Add the missing rows to SD.Next's sampler list; returns the labels added (none on a reload)."""
    from modules import sd_samplers, sd_samplers_diffusers
    from modules.sd_samplers_common import SamplerData

    listed = {row.name for row in sd_samplers_diffusers.samplers_data_diffusers}
    new = [entry for entry in entries(specs) if entry.label not in listed]
    if not new:
        return []

    def constructor(entry: Entry):
        def build(model: Any) -> Any:
            if entry.auto:  # DiffusionSampler reads the row now: the guidance of the pass being prepared
                sd_samplers_diffusers.config[entry.label]["guidance_scale"] = pipeline_guidance(current_job(), model)
            return sd_samplers_diffusers.DiffusionSampler(entry.label, scheduler_class, model)
        return build

    rows = [SamplerData(SEPARATOR, None, [], {})] if SEPARATOR not in listed else []
    rows += [SamplerData(entry.label, constructor(entry), list(entry.aliases), {}) for entry in new]
    for entry in new:
        sd_samplers_diffusers.config[entry.label] = scheduler_config(entry)
    _insert(sd_samplers_diffusers.samplers_data_diffusers, rows)
    if sd_samplers.all_samplers is not sd_samplers_diffusers.samplers_data_diffusers and sd_samplers.all_samplers:
        # listed at startup, before extensions load: the list the UI reads gets the same rows
        _insert(sd_samplers.all_samplers, rows)
        sd_samplers.all_samplers_map.update({row.name: row for row in rows})
        sd_samplers.set_samplers()
    return [entry.label for entry in new]
