"""Run inside a fresh interpreter against a real A1111-family WebUI checkout (WEBUI_DIR).

Boots the host's modules the way webui.py does (CPU only, no UI, no checkpoint), loads the
extension's script twice through the host's own script loader, then samples a tiny model
through the host's real path: sd_samplers.create_sampler -> KDiffusionSampler.sample ->
CFGDenoiser -> sampling_function -> UnetPatcher/KModel -> predictor. Prints one JSON object
(check name -> {"ok": bool, "detail": ...}) on the last line of stdout.

Not collected by pytest (no test_ prefix); tests/webui/test_webui_host.py runs it.
"""
from __future__ import annotations

import json
import os
import sys
import types

from probe_checks import check, report

WEBUI = os.path.abspath(os.environ["WEBUI_DIR"])
EXTENSION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(EXTENSION_ROOT, "scripts", "er_sde_samplers.py")
LABELS = json.loads(os.environ.get("ERSDE_WEBUI_LABELS", '["ER-SDE-Solver 1", "ER-SDE-Solver 2", "ER-SDE-Solver 3"]'))
CFG_PP_LABELS = ["ER-SDE-Solver 1 CFG++", "ER-SDE-Solver 2 CFG++", "ER-SDE-Solver 3 CFG++"]
STATE: dict = {}


def _pin_host_k_diffusion():
    """Forge vendors k-diffusion as a namespace package (WEBUI/k_diffusion without __init__.py).
    A regular k_diffusion package anywhere on sys.path (PyPI k-diffusion in a venv that sees
    the system site-packages) would win over it; a real Forge install has no such package,
    so bind the name to the host's copy the way it resolves there."""
    vendored = os.path.join(WEBUI, "k_diffusion")
    if os.path.isdir(vendored) and not os.path.exists(os.path.join(vendored, "__init__.py")):
        import importlib.machinery
        module = types.ModuleType("k_diffusion")
        module.__path__ = [vendored]
        module.__spec__ = importlib.machinery.ModuleSpec("k_diffusion", None, is_package=True)
        module.__spec__.submodule_search_locations = [vendored]
        sys.modules["k_diffusion"] = module
    STATE["k_diffusion_dir"] = vendored


@check("host_boots")
def _boot():
    os.chdir(WEBUI)
    sys.path.insert(0, WEBUI)
    _pin_host_k_diffusion()
    sys.argv = ["webui.py", "--always-cpu", "--skip-torch-cuda-test", "--skip-version-check",
                "--no-download-sd-model", "--skip-install"]
    try:
        from modules_forge.initialization import initialize_forge
        initialize_forge()
    except ModuleNotFoundError as error:
        if error.name != "modules_forge":
            raise
    from modules import shared_init
    shared_init.initialize()
    from modules import paths, processing  # noqa: F401 - the import order webui.py uses
    from modules import sd_samplers
    sd_samplers.set_samplers()
    STATE["builtin_count"] = len(sd_samplers.all_samplers)
    import k_diffusion.sampling
    return {"builtin_samplers": STATE["builtin_count"], "add_sampler": hasattr(sd_samplers, "add_sampler"),
            "k_diffusion": os.path.dirname(k_diffusion.sampling.__file__)}


@check("script_loads_through_host_loader")
def _load():
    from modules import script_loading, sd_samplers
    module = script_loading.load_module(SCRIPT)
    STATE["first"] = list(module.registered)
    STATE["after_first"] = [s.name for s in sd_samplers.all_samplers]
    return STATE["first"]


@check("script_loaded_twice")
def _load_twice():
    from modules import script_loading, sd_samplers
    module = script_loading.load_module(SCRIPT)
    STATE["second"] = list(module.registered)
    STATE["after_second"] = [s.name for s in sd_samplers.all_samplers]
    return STATE["second"]


@check("sampler_lists")
def _lists():
    from modules import sd_samplers
    names = [s.name for s in sd_samplers.all_samplers]
    return {
        "all_samplers": names,
        "all_samplers_map": sorted(k for k in sd_samplers.all_samplers_map if k in LABELS),
        "visible": [n for n in sd_samplers.visible_sampler_names() if n in LABELS],
        "samplers_map": {k: v for k, v in sd_samplers.samplers_map.items() if v in LABELS},
        "options": {s.name: dict(s.options) for s in sd_samplers.all_samplers if s.name in LABELS},
        "infotext": [sd_samplers.get_sampler_from_infotext({"Sampler": n}) for n in LABELS],
        "builtin_count": STATE.get("builtin_count"),
        "after_first": STATE.get("after_first"),
        "after_second": STATE.get("after_second"),
        "second_registered": STATE.get("second"),
    }


class TinyDiffusionModel:  # built lazily below (needs torch.nn after the host set things up)
    pass


def make_sd_model(flow: bool):
    import torch
    from backend.modules.k_model import KModel
    from backend.modules import k_prediction
    from backend.patcher.unet import UnetPatcher

    class Tiny(torch.nn.Module):
        """A 4-channel 1x1-conv 'UNet' with a timestep and context term: cheap, deterministic."""

        def __init__(self):
            super().__init__()
            generator = torch.Generator().manual_seed(0)
            self.conv = torch.nn.Conv2d(4, 4, 1)
            with torch.no_grad():
                self.conv.weight.copy_(torch.randn(4, 4, 1, 1, generator=generator) * 0.1)
                self.conv.bias.zero_()
            self.storage_dtype = self.computation_dtype = torch.float32
            self.load_device = self.offload_device = self.initial_device = torch.device("cpu")

        def forward(self, x, t, context=None, control=None, transformer_options=None, **kwargs):
            scale = (t.float() / 1000.0).view(-1, 1, 1, 1)
            return 0.5 * x + self.conv(x) * scale + context.mean(dim=(1, 2)).view(-1, 1, 1, 1) * 0.01

    if flow:
        predictor = k_prediction.PredictionDiscreteFlow(prediction_type="const", shift=3.0)
    else:
        predictor = k_prediction.Prediction(prediction_type="epsilon")
    kmodel = KModel(Tiny(), None, k_predictor=predictor)
    unet = UnetPatcher(kmodel, load_device=torch.device("cpu"), offload_device=torch.device("cpu"))

    sd_model = types.SimpleNamespace(
        forge_objects=types.SimpleNamespace(unet=unet), is_sdxl=False, is_inpaint=False,
        is_sd1=True, is_sd2=False, is_sd3=False, latent_channels=4, extra_generation_params={},
        sd_checkpoint_info=None, sd_model_hash=None, sd_model_checkpoint=None, filename="tiny",
    )
    sd_model.get_learned_conditioning = lambda texts: torch.stack(
        [torch.full((2, 8), float(len(t)) / 10.0) for t in texts])
    return sd_model


def sample(label: str, seeds: list[int], *, flow: bool = False, steps: int = 6, cfg_scale: float = 3.0):
    import torch
    from modules import processing, prompt_parser, rng, sd_samplers, shared

    sd_model = make_sd_model(flow)
    shared.sd_model = sd_model
    p = processing.StableDiffusionProcessingTxt2Img(
        sd_model=sd_model, prompt="a", negative_prompt="", sampler_name=label, scheduler="Automatic",
        steps=steps, cfg_scale=cfg_scale, width=16, height=16, batch_size=len(seeds), n_iter=1, seed=seeds[0],
        do_not_save_samples=True, do_not_save_grid=True)
    p.fill_fields_from_opts()
    p.seeds = p.all_seeds = list(seeds)
    p.subseeds = p.all_subseeds = [0] * len(seeds)
    p.iteration = 0
    p.rng = rng.ImageRNG((4, 2, 2), p.seeds, subseeds=p.subseeds)
    p.scripts = None
    p.extra_network_data = {}
    cond = prompt_parser.get_multicond_learned_conditioning(sd_model, ["a"] * len(seeds), steps)
    uncond = prompt_parser.get_learned_conditioning(sd_model, [""] * len(seeds), steps)
    sampler = sd_samplers.create_sampler(label, sd_model)
    x = p.rng.next()
    out = sampler.sample(p, x, cond, uncond, image_conditioning=torch.zeros(len(seeds), 5, 1, 1))
    return out, sampler, p


@check("samples_through_kdiffusion_sampler")
def _sample_all():
    import torch
    details = {}
    for label in LABELS:
        out, sampler, p = sample(label, [1234])
        details[label] = {
            "sampler_class": type(sampler).__name__,
            "kdiffusion_sampler": any(c.__name__ == "KDiffusionSampler" for c in type(sampler).__mro__),
            "func": getattr(sampler.func, "__name__", None),
            "finite": bool(torch.isfinite(out).all()),
            "shape": list(out.shape),
            "std": float(out.std()),
            "model_calls": int(sampler.model_wrap_cfg.step),
            "schedule_type": p.extra_generation_params.get("Schedule type"),
        }
    return details


@check("batch_invariant_noise")
def _batch_invariance():
    single, _, _ = sample("ER-SDE-Solver 3", [77])
    batch, _, _ = sample("ER-SDE-Solver 3", [77, 78])
    other, _, _ = sample("ER-SDE-Solver 3", [79])
    return {"max_diff_same_seed": float((batch[0] - single[0]).abs().max()),
            "max_diff_other_seed": float((other[0] - single[0]).abs().max())}


@check("flow_model")
def _flow():
    import torch
    from modules import script_callbacks
    glue = sys.modules["er_sde_nodes_webui_glue"]
    sigmas_seen = []
    script_callbacks.on_cfg_denoiser(lambda params: sigmas_seen.append(float(params.sigma[0])))
    try:
        out, sampler, p = sample("ER-SDE-Solver 2", [5], flow=True)
    finally:
        script_callbacks.remove_current_script_callbacks()
    prediction_type, class_names = glue.describe_model(sampler.model_wrap_cfg)
    return {"finite": bool(torch.isfinite(out).all()), "prediction_type": prediction_type,
            "detected_flow": glue.is_flow_prediction(prediction_type, class_names),
            "host_first_sigma": float(sampler.get_sigmas(p, 6)[0]), "model_sigmas": sigmas_seen,
            "std": float(out.std())}


@check("auto_reads_cond_scale")
def _auto():
    """ER-SDE-Solver Auto through the host's KDiffusionSampler at cfg 1.5 and 7: the policy gets
    the cfg_scale the host's CFG denoiser applies (extra_args["cond_scale"])."""
    import torch
    from probe_checks import AutoChoices
    glue = sys.modules["er_sde_nodes_webui_glue"]
    out = {}
    for cfg in (1.5, 7.0):
        with AutoChoices(glue.SOLVER_MODULE_NAME) as choices:
            result, sampler, p = sample("ER-SDE-Solver Auto", [11], cfg_scale=cfg)
        out[str(cfg)] = {"calls": choices.calls, "finite": bool(torch.isfinite(result).all()),
                         "model_calls": int(sampler.model_wrap_cfg.step)}
    return out


@check("cfg_pp")
def _cfg_pp():
    """ER-SDE-Solver 3 CFG++ through the host's CFG: the unconditional prediction arrives through
    the Forge unet's model_options (one post-CFG call a step), the result differs from plain CFG,
    and the host's model_options object is back in place afterwards."""
    import torch
    glue = sys.modules["er_sde_nodes_webui_glue"]
    seen = []
    keep = glue.UncondCapture._keep

    def counting_keep(self, args):
        seen.append(args["uncond_denoised"] is not None and args["uncond_denoised"] is not args["denoised"])
        return keep(self, args)

    glue.UncondCapture._keep = counting_keep
    try:
        out, sampler, p = sample("ER-SDE-Solver 3 CFG++", [1234])
    finally:
        glue.UncondCapture._keep = keep
    unet = sampler.model_wrap_cfg.inner_model.inner_model.forge_objects.unet
    plain, _, _ = sample("ER-SDE-Solver 3", [1234])
    return {"finite": bool(torch.isfinite(out).all()), "post_cfg_calls": len(seen), "uncond_given": all(seen),
            "max_diff_to_plain": float((out - plain).abs().max()),
            "options_restored": "sampler_post_cfg_function" not in unet.model_options,
            "func": getattr(sampler.func, "__name__", None), "model_calls": int(sampler.model_wrap_cfg.step)}


report()
