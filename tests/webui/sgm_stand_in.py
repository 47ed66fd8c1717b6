"""A stand-in for Stability-AI's `sgm` package (generative-models), for booting A1111 / reForge
where that repository is not there (CI: no GitHub access, and `sgm` is not on PyPI).

A1111 imports `sgm` at start-up only to patch its SDXL classes (sd_hijack, sd_models_xl,
sd_hijack_optimizations); an SD1 model never runs any of it. The stand-in's modules are
copies of the namespaces of the matching `ldm` modules (sgm's files derive from them), each its
own module object so that the host's per-module patches stay apart, with a UNetModel subclass
(the host patches ldm's and sgm's UNetModel.forward separately and refuses to patch one class
twice) and placeholder SDXL classes that refuse to be built. It is used only when
WEBUI_DIR/repositories/generative-models is absent; put the real repository there to boot
the host with the real `sgm` (tests/webui/test_a1111_host.py reports which one ran).
"""
from __future__ import annotations

import importlib
import sys
import types

ALIASES = {  # sgm module -> the ldm module it derives from
    "sgm.modules.attention": "ldm.modules.attention",
    "sgm.modules.diffusionmodules.model": "ldm.modules.diffusionmodules.model",
    "sgm.modules.diffusionmodules.openaimodel": "ldm.modules.diffusionmodules.openaimodel",
    "sgm.modules.diffusionmodules.util": "ldm.modules.diffusionmodules.util",
    "sgm.modules.encoders.modules": "ldm.modules.encoders.modules",
}
PACKAGES = ("sgm", "sgm.models", "sgm.modules", "sgm.modules.diffusionmodules", "sgm.modules.encoders")


class _SDXLOnly:
    """An SDXL class of sgm's: SD1 never builds one."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__} is part of the sgm stand-in (tests/webui/sgm_stand_in.py): "
                           "put Stability-AI/generative-models in repositories/ to load SDXL models")


def _module(name: str, package: bool = False) -> types.ModuleType:
    module = types.ModuleType(name, "stand-in (tests/webui/sgm_stand_in.py)")
    module.__file__ = __file__
    if package:
        module.__path__ = []
    sys.modules[name] = module
    if "." in name:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, module)
    return module


def install() -> None:
    """Put the stand-in into sys.modules (before the host imports sgm)."""
    if "sgm" in sys.modules and not getattr(sys.modules["sgm"], "__doc__", "").startswith("stand-in"):
        return
    for name in PACKAGES:
        _module(name, package=True)
    for name, source in ALIASES.items():
        module = _module(name)
        module.__dict__.update({k: v for k, v in vars(importlib.import_module(source)).items()
                                if not k.startswith("__")})
    openaimodel = sys.modules["sgm.modules.diffusionmodules.openaimodel"]
    openaimodel.UNetModel = type("UNetModel", (openaimodel.UNetModel,), {"__module__": openaimodel.__name__})

    diffusion = _module("sgm.models.diffusion")
    diffusion.DiffusionEngine = type("DiffusionEngine", (_SDXLOnly,), {})
    sys.modules["sgm.modules"].GeneralConditioner = type("GeneralConditioner", (_SDXLOnly,), {})
    sys.modules["sgm.modules.encoders.modules"].GeneralConditioner = sys.modules["sgm.modules"].GeneralConditioner
    _module("sgm.modules.diffusionmodules.denoiser_scaling").VScaling = type("VScaling", (_SDXLOnly,), {})
    _module("sgm.modules.diffusionmodules.discretizer").LegacyDDPMDiscretization = type(
        "LegacyDDPMDiscretization", (_SDXLOnly,), {})
