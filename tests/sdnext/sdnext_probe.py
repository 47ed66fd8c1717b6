"""Boot a real SD.Next checkout (SDNEXT_DIR, a scratch copy: this writes into it) in this fresh
interpreter, the way its webui.py initialize() does (CPU, no UI server, no checkpoint), with this
repository linked as an extension in extensions/, and drive it. Prints one JSON object (check
name -> {"ok": bool, "detail": ...}) on the last line of stdout; tests/sdnext/test_sdnext_host.py
reads it.

What is SD.Next's own code: the boot (modules.loader, shared, devices), the sampler list
(sd_samplers.list_samplers / set_samplers / find_sampler), the extension discovery and script
loader (extensions.list_extensions, scripts_manager.load_scripts, script_loading.load_module),
the sampler construction (sd_samplers.create_sampler -> sd_samplers_diffusers.DiffusionSampler,
with its option overrides and flow redirect), and for VP models the model loader
(sd_checkpoint.list_models, sd_models.load_diffuser: model-type detection, from_pretrained,
embeddings, prompt-parser setup) and the whole txt2img and img2img paths (processing.process_images
-> processing_diffusers: pipeline switch, prompt encoding, pipeline call, VAE decode).
What is not: the weights. The model is a tiny random-weight StableDiffusionPipeline (its CLIP
tokenizer built from a 55-token vocabulary written here) saved into models/Diffusers/ for the
loader. For flow models a tiny FluxPipeline is handed to SD.Next as its model (SD.Next's loader
and Flux prompt encoding need T5 files that cannot be built offline), gets its scheduler from
SD.Next's create_sampler, and is then called directly with prompt embeddings.
"""
from __future__ import annotations

import json
import os
import string
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "webui"))
from probe_checks import check, report  # noqa: E402

STATE: dict = {}

SDNEXT = os.path.abspath(os.environ["SDNEXT_DIR"])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXTENSION_NAME = "er-sde-nodes"
SCRIPT = os.path.join(SDNEXT, "extensions", EXTENSION_NAME, "scripts", "er_sde_samplers.py")
LABELS = json.loads(os.environ["ERSDE_SDNEXT_LABELS"])  # every row the extension adds, in order
VP_LABELS = [label for label in LABELS if not label.endswith(" FlowMatch")]
SIZE = 32  # image side; the tiny VAE downsamples by 2: latent 16x16


def _names(rows) -> list[str]:
    return [row.name for row in rows]


def _own_er_sde_rows() -> dict:
    """SD.Next's own "ER-SDE ..." rows: order, constructors (identity), configs, scheduler class."""
    from modules import sd_samplers, sd_samplers_diffusers
    rows = [row for row in sd_samplers.all_samplers if row.name.startswith("ER-SDE") and row.name not in LABELS]
    return {"names": _names(rows), "constructor_ids": [id(row.constructor) for row in rows],
            "configs": {row.name: sd_samplers_diffusers.config.get(row.name) for row in rows},
            "scheduler_class": sd_samplers_diffusers.ERSDEScheduler.__module__ + "." + sd_samplers_diffusers.ERSDEScheduler.__name__}


@check("scratch_prepared")
def _prepare():
    if not os.access(SDNEXT, os.W_OK):
        raise RuntimeError(f"{SDNEXT} is not writable: point SDNEXT_DIR at a scratch copy of SD.Next")
    # extensions-builtin/ holds git submodules in a real install; list_extensions() stops without it
    os.makedirs(os.path.join(SDNEXT, "extensions-builtin"), exist_ok=True)
    os.makedirs(os.path.join(SDNEXT, "extensions"), exist_ok=True)
    link = os.path.join(SDNEXT, "extensions", EXTENSION_NAME)
    if not os.path.lexists(link):
        os.symlink(REPO, link)
    return {"extension": link}


@check("host_boots")
def _boot():
    os.chdir(SDNEXT)
    sys.path.insert(0, SDNEXT)
    sys.argv = ["webui.py", "--use-cpu", "all"]
    import modules.loader  # noqa: F401 - what webui.py imports first
    from modules import shared  # webui.py's import order: shared before modeldata
    from modules import modeldata, sd_samplers
    shared.opts.show_progress_type = "None"  # TAESD previews would fetch weights from GitHub
    sd_samplers.list_samplers()  # webui.initialize(), before extensions load
    STATE["builtin"] = _names(sd_samplers.all_samplers)
    STATE["own_before"] = _own_er_sde_rows()
    modeldata.model_data.locked = False  # webui.load_model() does this before any model is set
    import diffusers
    return {"builtin_count": len(STATE["builtin"]), "diffusers": diffusers.__version__}


@check("extension_loads_through_host_loader")
def _load():
    from modules import extensions, scripts_manager, sd_samplers
    extensions.list_extensions()
    ours = [e.name for e in extensions.extensions if os.path.realpath(e.path) == os.path.realpath(REPO)]
    scripts_manager.load_scripts()  # every script of SD.Next and its extensions, as webui.initialize() runs it
    STATE["after_first"] = _names(sd_samplers.all_samplers)
    module = sys.modules.get("er_sde_nodes_webui_sdnext")
    STATE["sdnext_adapter"] = module
    scheduler_module = sys.modules.get("er_sde_nodes_webui_package.ersde_diffusers.scheduler")
    return {"extension_listed": ours, "added": [n for n in STATE["after_first"] if n not in STATE["builtin"]],
            "sdnext_module": getattr(module, "__file__", None),
            "scheduler_file": getattr(scheduler_module, "__file__", None),
            "solver_used": sys.modules["er_sde_nodes_webui_package.ersde_diffusers._solver"].solver.__name__,
            "top_level_imported": sorted(n for n in ("k_diffusion_ext", "ersde_diffusers", "ersde_nodes") if n in sys.modules)}


@check("script_loaded_twice")
def _load_twice():
    from modules import script_loading, sd_samplers
    module = script_loading.load_module(SCRIPT)
    STATE["after_second"] = _names(sd_samplers.all_samplers)
    return {"registered": list(module.registered), "unchanged": STATE["after_second"] == STATE["after_first"]}


@check("sampler_lists")
def _lists():
    from modules import sd_samplers
    names = _names(sd_samplers.all_samplers)
    visible = _names(sd_samplers.visible_samplers())
    aliases = {alias: (sd_samplers.find_sampler(alias) or sd_samplers.all_samplers[0]).name
               for row in sd_samplers.all_samplers if row.name in LABELS for alias in row.aliases}
    own_after = _own_er_sde_rows()
    api_rows = _names(sd_samplers.list_samplers())  # what the API's sampler list rebuilds from
    sd_samplers.set_samplers()
    return {
        "ours_in_order": [n for n in names if n in LABELS],
        "counts": {label: names.count(label) for label in LABELS},
        "visible": [n for n in visible if n in LABELS],
        "samplers_map": {k: v for k, v in sd_samplers.samplers_map.items() if v in LABELS},
        "aliases": aliases,
        "api_list": [n for n in api_rows if n in LABELS],
        "group": names[names.index(LABELS[0]) - 1: names.index(LABELS[0])],
        "after_own_group": names.index(LABELS[0]) > names.index(STATE["own_before"]["names"][-1]),
        "own_unchanged": own_after == STATE["own_before"],
        "own_names": own_after["names"],
        "builtin_kept": [n for n in names if n not in LABELS and n != "── ER-SDE-Solver ──"] == STATE["builtin"],
    }


def tiny_tokenizer():
    from transformers import CLIPTokenizer
    folder = tempfile.mkdtemp(prefix="ersde-tokenizer-")
    tokens = ["<|startoftext|>", "<|endoftext|>", "!"] + list(string.ascii_lowercase) + [c + "</w>" for c in string.ascii_lowercase]
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf8") as f:
        json.dump({token: i for i, token in enumerate(tokens)}, f)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf8") as f:
        f.write("#version: 0.2\n")
    return CLIPTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"), model_max_length=77,
                         pad_token="!")


def tiny_sd_pipeline():
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                norm_num_groups=2, attention_head_dim=2)
    vae = AutoencoderKL(block_out_channels=[4, 8], in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, norm_num_groups=2, sample_size=SIZE)
    text_encoder = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=2, hidden_size=16,
                                                intermediate_size=16, num_attention_heads=2, num_hidden_layers=1,
                                                vocab_size=64, max_position_embeddings=77, projection_dim=16))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False)  # SD1.5's scheduler config
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tiny_tokenizer(),
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    return pipe.to(torch.float32)


def tiny_flux_pipeline():
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=4, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, axes_dims_rope=[4, 4, 8])
    vae = AutoencoderKL(sample_size=SIZE, in_channels=3, out_channels=3, block_out_channels=(4,), layers_per_block=1,
                        latent_channels=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
                        shift_factor=0.0609, scaling_factor=1.5035)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True)  # Flux.1-dev's
    return FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=None, tokenizer=None, text_encoder_2=None,
                        tokenizer_2=None, transformer=transformer)


def load_through_sdnext(pipe, name: str):
    """Save `pipe` into SD.Next's models/Diffusers/ and load it with SD.Next's own model loader."""
    from modules import modeldata, sd_checkpoint, sd_models, shared
    pipe.save_pretrained(os.path.join(shared.opts.diffusers_dir, name))
    sd_checkpoint.list_models()
    info = sd_checkpoint.get_closest_checkpoint_match(name)
    modeldata.model_data.sd_model = None
    sd_models.load_diffuser(info)
    if type(shared.sd_model) is not type(pipe):
        raise RuntimeError(f"SD.Next's loader gave {type(shared.sd_model).__name__} for {info}")
    return shared.sd_model


def set_model(pipe):
    """Hand SD.Next a pipeline as its loaded model (what sd_models.load_diffuser leaves behind)."""
    from modules import sd_checkpoint, shared
    pipe.sd_checkpoint_info = sd_checkpoint.CheckpointInfo(os.path.join(SDNEXT, "models", "Diffusers", "ersde-tiny"))
    pipe.sd_model_hash = None
    shared.sd_model = pipe
    return pipe


class StepRecorder:
    """Counts the scheduler's step() calls, whether every prev_sample was finite and which pipeline
    SD.Next was running (observes only)."""

    def __init__(self, scheduler_class):
        self.cls, self.original = scheduler_class, scheduler_class.step
        self.calls, self.finite, self.pipelines = 0, True, set()
        recorder = self

        def step(self, *args, **kwargs):
            import torch
            from modules import shared
            out = recorder.original(self, *args, **kwargs)
            sample = out[0] if isinstance(out, tuple) else out.prev_sample
            recorder.calls += 1
            recorder.finite = recorder.finite and bool(torch.isfinite(sample).all())
            recorder.pipelines.add(type(shared.sd_model).__name__)
            return out

        self.step = step

    def __enter__(self):
        self.cls.step = self.step
        return self

    def __exit__(self, *exc):
        self.cls.step = self.original


def scheduler_class():
    return sys.modules["er_sde_nodes_webui_package.ersde_diffusers"].ERSDESolverScheduler


def txt2img(label: str, seed: int, steps: int = 4, init_image=None, **overrides):
    """One generation through SD.Next's processing; img2img (strength 0.5) with `init_image`."""
    import numpy as np
    from modules import processing, shared
    common = dict(prompt="a red cat", negative_prompt="blurry", sampler_name=label, steps=steps, width=SIZE,
                  height=SIZE, seed=seed, cfg_scale=3.0, do_not_save_samples=True, do_not_save_grid=True)
    if init_image is None:
        p = processing.StableDiffusionProcessingTxt2Img(**common)
    else:
        p = processing.StableDiffusionProcessingImg2Img(init_images=[init_image], denoising_strength=0.5, **common)
    for key, value in overrides.items():  # per-request sampler settings, as the API sets them on p
        setattr(p, key, value)
    with StepRecorder(scheduler_class()) as recorder:
        processed = processing.process_images(p)
    if processed is None or not processed.images:
        raise RuntimeError(f"SD.Next produced no image for {label!r}")
    scheduler = shared.sd_model.scheduler
    image = np.asarray(processed.images[0], dtype=np.float32)
    return {"scheduler": f"{type(scheduler).__module__}.{type(scheduler).__name__}",
            "solver_order": scheduler.config.get("solver_order"), "config": _plain(scheduler.config),
            "pipelines": sorted(recorder.pipelines),
            "steps_run": recorder.calls, "finite": recorder.finite, "image_size": list(processed.images[0].size),
            "image_std": float(image.std()), "image": image, "infotext": processed.info}


def _plain(config) -> dict:
    return {k: v for k, v in dict(config).items() if not k.startswith("_") and isinstance(v, (str, int, float, bool, type(None)))}


@check("txt2img_through_process_images")
def _txt2img():
    load_through_sdnext(tiny_sd_pipeline(), "ersde-tiny-sd")
    runs = {}
    for label in VP_LABELS:
        run = txt2img(label, seed=1)
        run.pop("image")
        runs[label] = run
    return runs


@check("seeds")
def _seeds():
    first, again, other = (txt2img(LABELS[2], seed)["image"] for seed in (7, 7, 8))
    return {"max_diff_same_seed": float(abs(first - again).max()), "max_diff_other_seed": float(abs(first - other).max())}


@check("img2img_through_process_images")
def _img2img():
    import numpy as np
    from PIL import Image
    init = Image.fromarray((np.random.RandomState(0).rand(SIZE, SIZE, 3) * 255).astype(np.uint8))
    run = txt2img(LABELS[2], seed=5, steps=8, init_image=init)
    run.pop("image")
    return run


@check("sampler_settings_reach_scheduler")
def _settings():
    """SD.Next's per-request sampler settings (what update_sampler reads from p) in one real run."""
    run = txt2img(LABELS[1], seed=3, schedulers_sigma="karras", schedulers_solver_order=1,
                  schedulers_timestep_spacing="trailing", schedulers_prediction_type="v_prediction")
    run.pop("image")
    return run


AUTO_LABEL = "ER-SDE-Solver Auto"


@check("auto_reads_the_job_cfg")
def _auto():
    """ER-SDE-Solver Auto through process_images at cfg 1.5 and 7: the scheduler SD.Next built holds
    the job's CFG scale (scheme "auto" reads it: tests/diffusers checks that against sample_er_sde);
    outside a job the scale is unknown."""
    from modules import sd_samplers, shared
    out = {}
    for cfg in (1.5, 7.0):
        run = txt2img(AUTO_LABEL, seed=4, steps=6, cfg_scale=cfg)
        run.pop("image")
        out[str(cfg)] = run
    scheduler = sd_samplers.create_sampler(AUTO_LABEL, shared.sd_model)  # no job in progress
    out["outside_a_job"] = scheduler.config.get("guidance_scale", "missing")
    out["flux_pipeline"] = STATE["sdnext_adapter"].pipeline_guidance(
        types_p(cfg_scale=7.0, cfg_true=-1), tiny_flux_pipeline())
    out["flux_pipeline_true_cfg"] = STATE["sdnext_adapter"].pipeline_guidance(
        types_p(cfg_scale=3.5, cfg_true=4.0), tiny_flux_pipeline())
    out["hires_pass"] = STATE["sdnext_adapter"].pipeline_guidance(
        types_p(cfg_scale=7.0, cfg_image=4.0, is_hr_pass=True), shared.sd_model)
    return out


def types_p(**values):
    import types
    return types.SimpleNamespace(**values)


@check("flow_model")
def _flow():
    import torch
    from modules import sd_samplers, shared
    pipe = set_model(tiny_flux_pipeline())
    out = {"model_type": shared.sd_model_type}
    shifted = {"schedulers_shift": 5.0, "schedulers_dynamic_shift": True}  # per-request settings
    for label, overrides in [(label, None) for label in VP_LABELS] + [("shifted", shifted)]:
        # SD.Next redirects each label to "<label> FlowMatch"
        scheduler = sd_samplers.create_sampler(LABELS[2] if overrides else label, pipe, scheduler_overrides=overrides)
        with StepRecorder(scheduler_class()) as recorder:
            latents = pipe(prompt_embeds=torch.randn(1, 8, 32, generator=torch.Generator().manual_seed(0)),
                           pooled_prompt_embeds=torch.randn(1, 32, generator=torch.Generator().manual_seed(1)),
                           num_inference_steps=4, height=SIZE, width=SIZE, guidance_scale=3.5, output_type="latent",
                           generator=torch.Generator().manual_seed(2)).images
        out[label] = {"scheduler": f"{type(scheduler).__module__}.{type(scheduler).__name__}",
                      "name": getattr(scheduler, "name", None), "config": _plain(scheduler.config),
                      "steps_run": recorder.calls, "finite": recorder.finite and bool(torch.isfinite(latents).all())}
    return out


report()
