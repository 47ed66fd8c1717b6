"""Writes a checkpoint of the Stable Diffusion 1.5 architecture with random weights, built
with ComfyUI's own classes (UNet via supported_models.SD15 / model_base, CLIP ViT-L via
sd1_clip, the KL VAE) and saved the way ComfyUI saves checkpoints (state_dict_for_saving,
fp16 safetensors), so that CheckpointLoaderSimple detects and loads it as SD1.5. It
produces noise, not pictures: it is for end-to-end runs without downloading 4 GB.

    python random_sd15_checkpoint.py COMFYUI_DIR OUT.safetensors

Used by test_e2e.py (run with the Python that runs ComfyUI).
"""
from __future__ import annotations

import inspect
import sys

import torch

# The SD1.5 UNet: 320 channels, multipliers 1/2/4/4, two res blocks a level, attention
# with 8 heads and 768-wide text context on the first three levels and the middle block.
SD15_UNET = {
    "image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 320,
    "num_res_blocks": [2, 2, 2, 2], "channel_mult": [1, 2, 4, 4],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "transformer_depth_middle": 1,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "context_dim": 768, "num_heads": 8, "use_linear_in_transformer": False,
    "use_spatial_transformer": True, "legacy": False, "adm_in_channels": None,
    "use_checkpoint": False, "use_temporal_attention": False, "use_temporal_resblock": False,
}
SD_VAE = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
          "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}


def randomize(module: torch.nn.Module, generator: torch.Generator) -> None:
    """ComfyUI's layers skip weight init: give every parameter a value (norm weights 1, other
    vectors 0, matrices and kernels N(0, 0.02))."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.ndim <= 1:
                p.fill_(1.0 if "norm" in name and name.endswith("weight") else 0.0)
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.02)


def import_comfy(comfy_dir: str) -> None:
    """Make ComfyUI importable, CPU only (before any comfy module is imported)."""
    sys.path.insert(0, comfy_dir)
    from comfy.cli_args import args
    args.cpu = True


def state_dict_for_saving(model, clip_sd: dict, vae_sd: dict) -> dict:
    """The checkpoint's keys as the host's own save_checkpoint writes them. BaseModel's
    state_dict_for_saving reads the diffusion model's weights itself up to 0.3.x
    (clip, vae, ...); from 0.33 on it takes them as its first argument (unet_state_dict, ...),
    which ModelPatcher reads for it: passing clip and vae positionally to 0.33 writes the text
    encoder where the UNet belongs and the checkpoint is not detected."""
    if "unet_state_dict" in inspect.signature(model.state_dict_for_saving).parameters:
        return model.state_dict_for_saving(model.diffusion_model.state_dict(), clip_state_dict=clip_sd,
                                           vae_state_dict=vae_sd)
    return model.state_dict_for_saving(clip_state_dict=clip_sd, vae_state_dict=vae_sd)


def write_checkpoint(out: str, supported_model: type, unet_config: dict, clip: torch.nn.Module,
                     vae_config: dict, vae_embed_dim: int) -> None:
    """Build the diffusion model from ComfyUI's supported-model class, give it, `clip` and a KL VAE
    random weights (seed 0), and save them as ComfyUI saves a checkpoint (fp16 safetensors)."""
    import comfy.utils
    from comfy.ldm.models.autoencoder import AutoencoderKL

    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(0)
    model = supported_model(dict(unet_config, dtype=torch.float32)).get_model({}, device=torch.device("cpu"))
    randomize(model.diffusion_model, g)
    randomize(clip, g)
    vae = AutoencoderKL(ddconfig=vae_config, embed_dim=vae_embed_dim)
    randomize(vae, g)
    sd = state_dict_for_saving(model, clip.state_dict(), vae.state_dict())
    sd = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in sd.items()}
    comfy.utils.save_torch_file(sd, out)


def main(comfy_dir: str, out: str) -> None:
    import_comfy(comfy_dir)
    import comfy.sd1_clip
    import comfy.supported_models

    clip = comfy.sd1_clip.SD1ClipModel(device="cpu", dtype=torch.float32)
    write_checkpoint(out, comfy.supported_models.SD15, SD15_UNET, clip, SD_VAE, 4)


if __name__ == "__main__":
    main(*sys.argv[1:3])
