"""Boot a real AUTOMATIC1111 or reForge checkout (WEBUI_DIR, a scratch copy: this writes into it)
the way its webui.py does (CPU, API, no UI server), with this repository as an extension in
extensions/, and drive it through its own HTTP API. Prints one JSON object (check name ->
{"ok": bool, "detail": ...}) on the last line of stdout; tests/webui/test_a1111_host.py reads it.

What the checkout's launcher would git-clone at first launch is provided as follows (CI has no
GitHub access): `ldm` (Stability-AI/stablediffusion) from the PyPI package stable-diffusion-sdkit,
linked as repositories/stable-diffusion-stability-ai/ldm; k_diffusion from PyPI k-diffusion;
`sgm` (generative-models, not on PyPI) by tests/webui/sgm_stand_in.py unless
repositories/generative-models is there. The model is a tiny random-weight SD1 checkpoint built
from the host's own classes and written to models/Stable-diffusion/, loaded by the host's loader.
"""
from __future__ import annotations

import base64
import io
import json
import os
import sys

from probe_checks import check, report

STATE: dict = {}

WEBUI = os.path.abspath(os.environ["WEBUI_DIR"])
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FLAVOR = "reforge" if os.path.isdir(os.path.join(WEBUI, "ldm_patched")) else "a1111"
EXTENSION_NAME = "er-sde-nodes"
MODEL_NAME = "ersde-tiny"
LABELS = json.loads(os.environ.get("ERSDE_WEBUI_LABELS", '["ER-SDE-Solver 1", "ER-SDE-Solver 2", "ER-SDE-Solver 3"]'))
# img2img, the noise options and the bad-input check use the plain entries (CFG++ is sampled above)
PLAIN_LABELS = [label for label in LABELS if not label.endswith(" CFG++")]
SIZE = 64  # image side; latent 8x8


@check("scratch_prepared")
def _prepare():
    import importlib.util
    if not os.access(WEBUI, os.W_OK):
        raise RuntimeError(f"{WEBUI} is not writable: point WEBUI_DIR at a scratch copy of the host")
    repos = os.path.join(WEBUI, "repositories")
    sd_repo = os.path.join(repos, "stable-diffusion-stability-ai")
    ldm_source = "repositories/stable-diffusion-stability-ai"
    if not os.path.isfile(os.path.join(sd_repo, "ldm", "models", "diffusion", "ddpm.py")):
        spec = importlib.util.find_spec("ldm")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("no `ldm` package: pip install --no-deps stable-diffusion-sdkit "
                               "(or put Stability-AI/stablediffusion in repositories/)")
        os.makedirs(sd_repo, exist_ok=True)
        os.symlink(list(spec.submodule_search_locations)[0], os.path.join(sd_repo, "ldm"))
        ldm_source = "PyPI stable-diffusion-sdkit"
    sgm_dir = os.path.join(repos, "generative-models", "sgm")
    STATE["real_sgm"] = os.path.isfile(os.path.join(sgm_dir, "__init__.py"))
    if not STATE["real_sgm"]:  # paths.py registers the folder only if it exists; `import sgm` gets the stand-in
        os.makedirs(sgm_dir, exist_ok=True)
    k_diff = "repositories/k-diffusion" if os.path.isdir(os.path.join(repos, "k-diffusion")) else "PyPI k-diffusion"
    extensions = os.path.join(WEBUI, "extensions")
    os.makedirs(extensions, exist_ok=True)
    link = os.path.join(extensions, EXTENSION_NAME)
    if not os.path.lexists(link):
        os.symlink(REPO, link)
    return {"flavor": FLAVOR, "ldm": ldm_source, "sgm": "generative-models" if STATE["real_sgm"] else "stand-in",
            "k_diffusion": k_diff, "extension": link}


def _boot():
    # The venv sees the system's site-packages, where the test extra's k-diffusion brought wandb,
    # which needs pydantic 2; these hosts pin pydantic 1 and never install wandb. pytorch_lightning
    # imports wandb when it is there and treats ModuleNotFoundError as "not installed".
    sys.modules.setdefault("wandb", None)
    os.chdir(WEBUI)
    sys.path.insert(0, WEBUI)
    args = ["webui.py", "--api", "--nowebui", "--skip-torch-cuda-test", "--skip-version-check", "--skip-install",
            "--no-download-sd-model", "--skip-load-model-at-start", "--use-cpu", "all", "--no-half", "--no-half-vae",
            "--precision", "full", "--ckpt", os.path.join(WEBUI, "models", "Stable-diffusion", MODEL_NAME + ".safetensors")]
    if FLAVOR == "reforge":
        args.append("--always-cpu")
    sys.argv = args
    if not STATE.get("real_sgm"):
        sys.path.insert(0, HERE)
        import sgm_stand_in
        sys.path.remove(HERE)
        sgm_stand_in.install()
    from modules import timer  # noqa: F401
    if FLAVOR == "reforge":
        from modules_forge.initialization import initialize_forge
        initialize_forge()
    from modules import initialize
    initialize.imports()
    initialize.check_versions()


# --- the tiny model ------------------------------------------------------------------------------

def _random_state_dict(module, seed: int, prefix: str) -> dict:
    """Small deterministic random weights for every parameter of a module built on 'meta'."""
    import torch
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, p in module.state_dict(keep_vars=True).items():
        if name.endswith("position_ids"):
            out[prefix + name] = torch.arange(p.shape[-1]).expand(p.shape).clone()
            continue
        value = torch.randn(p.shape, generator=g) * 0.05
        if ("norm" in name or "ln_" in name or name.endswith("_norm.weight")) and name.endswith("weight"):
            value += 1.0
        out[prefix + name] = value.to(torch.float16 if FLAVOR == "reforge" else torch.float32)
    return out


def _tiny_clip_dir() -> str:
    """A CLIP tokenizer (bytes only, no merges) and a 2-layer text model config, for A1111's ldm config."""
    from transformers import CLIPTextConfig
    from transformers.models.clip.tokenization_clip import bytes_to_unicode
    path = os.path.join(WEBUI, "models", MODEL_NAME + "-clip")
    os.makedirs(path, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 2 * len(chars), "<|endoftext|>": 2 * len(chars) + 1})
    with open(os.path.join(path, "vocab.json"), "w", encoding="utf8") as f:
        json.dump(vocab, f)
    with open(os.path.join(path, "merges.txt"), "w", encoding="utf8") as f:
        f.write("#version: 0.2\n")
    CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=2, max_position_embeddings=77, bos_token_id=2 * len(chars),
                   eos_token_id=2 * len(chars) + 1, pad_token_id=2 * len(chars) + 1).save_pretrained(path)
    return path


A1111_CONFIG = """
model:
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    linear_start: 0.00085
    linear_end: 0.0120
    num_timesteps_cond: 1
    log_every_t: 200
    timesteps: 1000
    first_stage_key: "jpg"
    cond_stage_key: "txt"
    image_size: 8
    channels: 4
    cond_stage_trainable: false
    conditioning_key: crossattn
    monitor: val/loss_simple_ema
    scale_factor: 0.18215
    use_ema: False
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModel
      params:
        image_size: 8
        in_channels: 4
        out_channels: 4
        model_channels: 32
        attention_resolutions: [1]
        num_res_blocks: 1
        channel_mult: [1, 2]
        num_heads: 2
        use_spatial_transformer: True
        transformer_depth: 1
        context_dim: 32
        use_checkpoint: False
        legacy: False
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params:
        embed_dim: 4
        monitor: val/rec_loss
        ddconfig:
          double_z: true
          z_channels: 4
          resolution: 64
          in_channels: 3
          out_ch: 3
          ch: 32
          ch_mult: [1, 1, 1, 1]
          num_res_blocks: 1
          attn_resolutions: []
          dropout: 0.0
        lossconfig:
          target: torch.nn.Identity
    cond_stage_config:
      target: ldm.modules.encoders.modules.FrozenCLIPEmbedder
      params:
        version: "{clip}"
        device: cpu
"""

# An SD1.5-shaped UNet that reForge's model detection takes for SD1.5 (320 channels, context 768),
# one level deep; the CLIP-L text model and the SD VAE at their real sizes (detection needs them).
REFORGE_UNET = dict(image_size=32, in_channels=4, out_channels=4, model_channels=320, attention_resolutions=[1],
                    num_res_blocks=1, channel_mult=[1], num_heads=8, use_spatial_transformer=True,
                    transformer_depth=1, context_dim=768, use_checkpoint=False, legacy=False)
SD_VAE = dict(double_z=True, z_channels=4, resolution=256, in_channels=3, out_ch=3, ch=128, ch_mult=[1, 2, 4, 4],
              num_res_blocks=2, attn_resolutions=[], dropout=0.0)


def _write_tiny_checkpoint() -> dict:
    import torch
    from safetensors.torch import save_file
    path = os.path.join(WEBUI, "models", "Stable-diffusion", MODEL_NAME + ".safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    from transformers import CLIPTextConfig, CLIPTextModel
    from ldm.models.autoencoder import AutoencoderKL
    from ldm.modules.diffusionmodules.openaimodel import UNetModel
    if FLAVOR == "a1111":  # tiny parts, described by a config beside the checkpoint (the host reads it)
        from omegaconf import OmegaConf
        clip_dir = _tiny_clip_dir()
        config = A1111_CONFIG.replace("{clip}", clip_dir)
        with open(path[:-len(".safetensors")] + ".yaml", "w", encoding="utf8") as f:
            f.write(config)
        params = OmegaConf.to_container(OmegaConf.create(config).model.params)
        unet_params, vae_params = params["unet_config"]["params"], params["first_stage_config"]["params"]
        clip_config = CLIPTextConfig.from_pretrained(clip_dir)
    else:  # reForge detects the model from the state dict: SD1.5 shapes (see REFORGE_UNET)
        unet_params = REFORGE_UNET
        vae_params = {"ddconfig": SD_VAE, "embed_dim": 4}
        clip_config = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                     num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu")
    with torch.device("meta"):
        unet = UNetModel(**unet_params)
        vae = AutoencoderKL(ddconfig=vae_params["ddconfig"], lossconfig={"target": "torch.nn.Identity"},
                            embed_dim=vae_params["embed_dim"])
        clip = CLIPTextModel(clip_config)
    state = {}
    state.update(_random_state_dict(unet, 1, "model.diffusion_model."))
    state.update(_random_state_dict(vae, 2, "first_stage_model."))
    state.update(_random_state_dict(clip, 3, "cond_stage_model.transformer."))
    save_file({k: v.contiguous() for k, v in state.items()}, path)
    return {"path": path, "tensors": len(state), "megabytes": round(os.path.getsize(path) / 2**20, 1)}


def _watch_script_loads() -> None:
    """Record each module the host's script loader loads (scripts_data lists only Script classes)."""
    from modules import script_loading
    load_module = script_loading.load_module
    STATE["loaded_scripts"] = []

    def recording_load_module(path):
        module = load_module(path)
        STATE["loaded_scripts"].append((path, module))
        return module

    script_loading.load_module = recording_load_module


def _our_scripts() -> list:
    """(path relative to the extension, module) of the scripts the host loaded from extensions/<ours>."""
    link = os.path.join(WEBUI, "extensions", EXTENSION_NAME) + os.sep
    return [(os.path.relpath(path, link), module) for path, module in STATE.get("loaded_scripts", [])
            if os.path.abspath(path).startswith(link)]


@check("host_boots_with_extension_from_extensions_dir")
def _boot_and_initialize():
    _boot()
    STATE["checkpoint"] = _write_tiny_checkpoint()
    _watch_script_loads()
    from modules import initialize
    initialize.initialize()
    from modules import extensions
    ours = [e for e in extensions.extensions if os.path.realpath(e.path) == os.path.realpath(REPO)]
    loaded = _our_scripts()
    return {"extension_listed": [e.name for e in ours], "extension_enabled": [e.enabled for e in ours],
            "scripts_loaded": [path for path, _ in loaded],
            "registered": list(getattr(loaded[0][1], "registered", [])) if loaded else None,
            "checkpoint": STATE["checkpoint"]}


@check("ui_reload_adds_nothing")
def _reload():
    from modules import initialize, sd_samplers
    before = [s.name for s in sd_samplers.all_samplers]
    STATE["loaded_scripts"] = []
    initialize.initialize_rest(reload_script_modules=True)  # what "Reload UI" runs
    loaded = _our_scripts()
    return {"before": before, "after": [s.name for s in sd_samplers.all_samplers],
            "scripts_loaded_again": [path for path, _ in loaded],
            "registered_again": list(getattr(loaded[0][1], "registered", [])) if loaded else None}


@check("sampler_lists")
def _lists():
    from modules import sd_samplers
    return {
        "all_samplers": [s.name for s in sd_samplers.all_samplers],
        "visible": [s.name for s in sd_samplers.visible_samplers()],
        "samplers_map": {k: v for k, v in sd_samplers.samplers_map.items() if v in LABELS},
        "infotext": [sd_samplers.get_sampler_from_infotext({"Sampler": n}) for n in LABELS],
        "options": {s.name: dict(s.options) for s in sd_samplers.all_samplers if s.name in LABELS},
    }


@check("ui_sampler_dropdowns")
def _ui_lists():
    """The txt2img and img2img sampler selectors, built by the host's own sampler UI script."""
    import gradio as gr
    from modules.processing_scripts import sampler as sampler_script
    out = {}
    with gr.Blocks():
        for tab, is_img2img in (("txt2img", False), ("img2img", True)):
            script = sampler_script.ScriptSampler()
            script.tabname = tab
            script.ui(is_img2img)
            choices = script.sampler_name.choices
            out[tab] = [c[0] if isinstance(c, (list, tuple)) else c for c in choices]
    return out


def _client():
    if "client" not in STATE:
        from fastapi import FastAPI
        from fastapi.testclient import TestClient
        from modules import initialize_util, script_callbacks
        from modules.api.api import Api
        from modules.call_queue import queue_lock
        app = FastAPI()
        initialize_util.setup_middleware(app)
        Api(app, queue_lock)
        script_callbacks.app_started_callback(None, app)
        STATE["client"] = TestClient(app)
        STATE["trajectory"] = []
        script_callbacks.on_cfg_denoiser(
            lambda params: STATE["trajectory"].append((float(params.sigma[0]), params.x.detach().clone())))
    return STATE["client"]


@check("api_samplers")
def _api_samplers():
    response = _client().get("/sdapi/v1/samplers")
    response.raise_for_status()
    return [item for item in response.json() if item["name"] in LABELS] + [
        {"count": len(response.json()), "names": [item["name"] for item in response.json()]}]


def _image(b64: str):
    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"), dtype=np.float32)


# Every request states all noise options: the host restores overridden options afterwards only
# when they were in its config file, so a default left out would keep the previous request's value.
# Live previews off: reForge would download its approximate-preview model for them.
NOISE_DEFAULTS = {"randn_source": "GPU", "eta_noise_seed_delta": 0, "no_dpmpp_sde_batch_determinism": False,
                  "live_previews_enable": False}


def txt2img(sampler: str, seed: int = 1234, batch_size: int = 1, steps: int = 6, settings: dict | None = None,
            endpoint: str = "txt2img", extra: dict | None = None) -> dict:
    payload = {"prompt": "a red ball", "negative_prompt": "", "steps": steps, "sampler_name": sampler,
               "scheduler": "Automatic", "width": SIZE, "height": SIZE, "cfg_scale": 3.0, "seed": seed,
               "batch_size": batch_size, "send_images": True, "save_images": False,
               "override_settings": {**NOISE_DEFAULTS, **(settings or {})}, "override_settings_restore_afterwards": True}
    payload.update(extra or {})
    STATE["trajectory"] = []
    response = _client().post(f"/sdapi/v1/{endpoint}", json=payload)
    if response.status_code != 200:
        raise RuntimeError(f"{endpoint} answered {response.status_code}: {response.text[-3000:]}")
    body = response.json()
    info = json.loads(body["info"])
    trajectory = STATE["trajectory"]
    return {"images": [_image(b) for b in body["images"]], "infotexts": info["infotexts"],
            "sampler_name": info.get("sampler_name"), "sigmas": [s for s, _ in trajectory],
            "last_x": trajectory[-1][1] if trajectory else None}


def _summary(run: dict) -> dict:
    import numpy as np
    return {"infotexts": run["infotexts"], "sampler_name": run["sampler_name"], "model_calls": len(run["sigmas"]),
            "sigmas": run["sigmas"], "finite": bool(all(np.isfinite(i).all() for i in run["images"])),
            "image_std": float(np.mean([i.std() for i in run["images"]])), "images": len(run["images"])}


def _diff(a, b) -> float:
    import numpy as np
    return float(np.abs(a - b).max())


@check("txt2img_each_sampler")
def _txt2img_each():
    out = {}
    for label in LABELS:
        run = txt2img(label)
        out[label] = _summary(run)
    return out


@check("auto_reads_cond_scale")
def _auto():
    """ER-SDE-Solver Auto through the txt2img API at cfg 1.5 and 7, and with a hires pass (reForge:
    with its own hires cfg 2): the policy gets the scale the host's CFG denoiser applies in each pass."""
    from probe_checks import AutoChoices
    glue = sys.modules["er_sde_nodes_webui_glue"]
    out = {}
    for cfg in (1.5, 7.0):
        with AutoChoices(glue.SOLVER_MODULE_NAME) as choices:
            run = txt2img("ER-SDE-Solver Auto", extra={"cfg_scale": cfg})
        out[str(cfg)] = {"calls": choices.calls, **_summary(run)}
    hires = {"enable_hr": True, "hr_scale": 2, "hr_upscaler": "Latent", "denoising_strength": 0.5,
             "hr_second_pass_steps": 4, "hr_sampler_name": "ER-SDE-Solver Auto", "cfg_scale": 7.0, "hr_cfg": 2.0}
    with AutoChoices(glue.SOLVER_MODULE_NAME) as choices:
        run = txt2img("ER-SDE-Solver Auto", extra=hires)
    out["hires"] = {"calls": choices.calls, **_summary(run)}
    return out


@check("txt2img_by_alias")
def _alias():
    """An alias as API sampler_name, ours and a built-in one: the host must treat them alike."""
    from modules import sd_samplers
    default = sd_samplers.samplers[0].name  # what an unknown name falls back to
    builtin = next(s for s in sd_samplers.all_samplers if s.aliases and s.name not in LABELS and s.name != default)
    spec_alias = json.loads(os.environ.get("ERSDE_WEBUI_ALIAS", '["er_sde_solver_2", "ER-SDE-Solver 2"]'))
    ours = txt2img(spec_alias[0], steps=3)
    theirs = txt2img(builtin.aliases[0], steps=3)
    return {"ours": {"alias": spec_alias[0], "label": spec_alias[1], "used": ours["sampler_name"]},
            "builtin": {"alias": builtin.aliases[0], "label": builtin.name, "used": theirs["sampler_name"]}}


@check("img2img")
def _img2img():
    import numpy as np
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray((np.indices((SIZE, SIZE)).sum(0) % 255).astype(np.uint8)).convert("RGB").save(buffer, "PNG")
    run = txt2img(PLAIN_LABELS[-1], endpoint="img2img", steps=8,
                  extra={"init_images": [base64.b64encode(buffer.getvalue()).decode()], "denoising_strength": 0.5})
    return _summary(run)


def _latent_diff(a: dict, b: dict, index_a: int = 0, index_b: int = 0) -> float:
    return float((a["last_x"][index_a] - b["last_x"][index_b]).abs().max())


@check("noise_options")
def _noise():
    """Each noise option of the host against the same seed: max |difference| of the sampler's last
    latent (before the final step) and of the decoded image (0-255)."""
    label = PLAIN_LABELS[-1]
    base = txt2img(label, seed=1234)
    again = txt2img(label, seed=1234)
    batch = txt2img(label, seed=1234, batch_size=2)
    other = txt2img(label, seed=4321)
    out = {"repeat": (_latent_diff(base, again), _diff(base["images"][0], again["images"][0])),
           "batch_of_2_first": (_latent_diff(base, batch), _diff(base["images"][0], batch["images"][0])),
           "other_seed": (_latent_diff(base, other), _diff(base["images"][0], other["images"][0])),
           "infotext_default": base["infotexts"][0]}
    runs = {}
    for source in ("CPU", "GPU", "NV"):
        runs[source] = txt2img(label, seed=1234, settings={"randn_source": source})
    out["rng_gpu_vs_cpu"] = (_latent_diff(runs["GPU"], runs["CPU"]), _diff(runs["GPU"]["images"][0], runs["CPU"]["images"][0]))
    out["rng_nv_vs_cpu"] = (_latent_diff(runs["NV"], runs["CPU"]), _diff(runs["NV"]["images"][0], runs["CPU"]["images"][0]))
    nv_again = txt2img(label, seed=1234, settings={"randn_source": "NV"})
    out["rng_nv_repeat"] = (_latent_diff(runs["NV"], nv_again), _diff(runs["NV"]["images"][0], nv_again["images"][0]))
    out["infotext_rng"] = {k: v["infotexts"][0] for k, v in runs.items()}
    ensd = txt2img(label, seed=1234, settings={"eta_noise_seed_delta": 31337})
    out["ensd_brownian"] = (_latent_diff(ensd, base), _diff(ensd["images"][0], base["images"][0]))
    out["infotext_ensd_brownian"] = ensd["infotexts"][0]
    off = {"no_dpmpp_sde_batch_determinism": True}
    rng_base = txt2img(label, seed=1234, settings=off)
    rng_again = txt2img(label, seed=1234, settings=off)
    rng_batch = txt2img(label, seed=1234, batch_size=2, settings=off)
    rng_ensd = txt2img(label, seed=1234, settings={**off, "eta_noise_seed_delta": 31337})
    rng_nv = txt2img(label, seed=1234, settings={**off, "randn_source": "NV"})
    out["per_image_rng_vs_brownian"] = (_latent_diff(rng_base, base), _diff(rng_base["images"][0], base["images"][0]))
    out["per_image_rng_repeat"] = (_latent_diff(rng_base, rng_again), _diff(rng_base["images"][0], rng_again["images"][0]))
    out["per_image_rng_batch_of_2_first"] = (_latent_diff(rng_base, rng_batch),
                                             _diff(rng_base["images"][0], rng_batch["images"][0]))
    out["per_image_rng_ensd"] = (_latent_diff(rng_ensd, rng_base), _diff(rng_ensd["images"][0], rng_base["images"][0]))
    out["per_image_rng_nv_vs_cpu"] = (_latent_diff(rng_nv, rng_base), _diff(rng_nv["images"][0], rng_base["images"][0]))
    out["infotext_per_image_rng_ensd"] = rng_ensd["infotexts"][0]
    eta0 = txt2img(label, seed=1234, extra={"eta": 0.0})
    eta0_ensd = txt2img(label, seed=1234, extra={"eta": 0.0}, settings={**off, "eta_noise_seed_delta": 31337})
    eta0_other = txt2img(label, seed=1234, extra={"eta": 0.0}, settings=off)
    out["eta0_noise_free"] = (_latent_diff(eta0_ensd, eta0_other), _diff(eta0_ensd["images"][0], eta0_other["images"][0]))
    out["eta0_vs_default"] = (_latent_diff(eta0, base), _diff(eta0["images"][0], base["images"][0]))
    return out


@check("bad_input_is_an_error_not_a_crash")
def _bad_input():
    """A setting the solver refuses (a negative eta), then a normal request: the request fails with
    the solver's sentence, the WebUI keeps serving."""
    client = _client()
    payload = {"prompt": "a", "steps": 3, "sampler_name": PLAIN_LABELS[-1], "width": SIZE, "height": SIZE, "eta": -1.0,
               "override_settings": NOISE_DEFAULTS}
    bad = client.post("/sdapi/v1/txt2img", json=payload)
    good = txt2img(PLAIN_LABELS[0], steps=3)
    return {"bad_status": bad.status_code, "bad_body": bad.text[:2000], "after": _summary(good)}


report()
os._exit(0)  # the host leaves non-daemon threads (model loader, queue) behind
