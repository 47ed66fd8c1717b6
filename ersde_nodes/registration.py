"""Add er_sde_solver_1/2/3 to ComfyUI's sampler dropdowns.

comfy.samplers.ksampler(name) looks up comfy.k_diffusion.sampling.sample_<name>, so each
name gets its function there first, then the name is appended, in place, to the lists the
dropdowns read: comfy.samplers.SAMPLER_NAMES (the very list KSampler.SAMPLERS, KSamplerAdvanced
and KSamplerSelect show) and comfy.samplers.KSAMPLER_NAMES (the k-diffusion names other
node packs offer). Nothing is rebound, no other name is touched (the built-in er_sde
stays ComfyUI's), and running it twice adds nothing. A host without these lists gets a
logged warning, never an exception.
"""
from __future__ import annotations

import logging
from typing import Any

from . import names
from .sampling import COMFY_SAMPLER_FUNCTIONS

logger = logging.getLogger(__name__)

NAME_LISTS = ("SAMPLER_NAMES", "KSAMPLER_NAMES")


def _append_names(lst: list) -> None:
    for name in names.SAMPLER_NAMES:
        if name not in lst:
            lst.append(name)


def register_samplers(samplers_module: Any = None, sampling_module: Any = None) -> bool:
    """Register the samplers with ComfyUI (or the given modules). True if the dropdowns have them."""
    try:
        if samplers_module is None:
            import comfy.samplers as samplers_module
        if sampling_module is None:
            from comfy.k_diffusion import sampling as sampling_module
    except Exception as exc:  # an unknown host layout must not break loading the nodes
        logger.warning("ER-SDE: cannot import ComfyUI's sampler modules (%s); the er_sde_solver_1/2/3 "
                       "entries are not added to the KSampler dropdowns", exc)
        return False

    for attr, function in COMFY_SAMPLER_FUNCTIONS.items():
        setattr(sampling_module, attr, function)

    done = False
    for list_name in NAME_LISTS:
        lst = getattr(samplers_module, list_name, None)
        if isinstance(lst, list):
            _append_names(lst)
            done = done or list_name == "SAMPLER_NAMES"
        else:
            logger.warning("ER-SDE: comfy.samplers.%s is missing or not a list; er_sde_solver_1/2/3 are not "
                           "added to it", list_name)
    ksampler = getattr(samplers_module, "KSampler", None)
    dropdown = getattr(ksampler, "SAMPLERS", None)
    if isinstance(dropdown, list) and dropdown is not getattr(samplers_module, "SAMPLER_NAMES", None):
        _append_names(dropdown)  # a host where the stock node has its own list
        done = True
    if not done:
        logger.warning("ER-SDE: found no sampler list in comfy.samplers; the KSampler dropdowns will not offer "
                       "er_sde_solver_1/2/3 (the ER-SDE nodes still work)")
    return done
