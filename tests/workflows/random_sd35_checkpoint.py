"""Writes a tiny checkpoint of the SD3.5 family with random weights, built with ComfyUI's own
classes and saved the way ComfyUI saves checkpoints, so that CheckpointLoaderSimple detects
it as SD3 (model_detection reads an MMDiT from `joint_blocks.*`, its width from
x_embedder: 64 x depth) and loads model, CLIP and VAE from it. It produces noise, not
pictures: it is for end-to-end runs of workflows/sd35_medium_txt2img_ksampler_er_sde.json.

What is tiny and what is real:
- MMDiT-X as in SD3.5 Medium (16 latent channels, patch 2, RMS q/k norm, a second self-attention
  in the first block, 4096-wide context in, 2048-wide pooled vector in) but depth 2, so 128
  wide with 2 heads, and positions up to 192 patches a side (Medium: 384);
- text encoders: CLIP-L only (ComfyUI's SD3 text encoder runs with any of CLIP-L, CLIP-G,
  T5-XXL present; the missing ones give zeros, as with a checkpoint saved without them);
  CLIP-G (695M parameters) and T5-XXL (4.7B) have fixed sizes in ComfyUI and are left out;
- VAE: SD3's 16-channel KL autoencoder at its real size.

    python random_sd35_checkpoint.py COMFYUI_DIR OUT.safetensors

Run it with the Python that runs ComfyUI; about 10 s and 0.4 GB.
"""
from __future__ import annotations

import sys

import torch

from random_sd15_checkpoint import SD_VAE, import_comfy, write_checkpoint

SD35_TINY_MMDIT = {
    "in_channels": 16, "out_channels": 16, "patch_size": 2, "depth": 2, "input_size": None,
    "adm_in_channels": 2048, "num_patches": 36864, "pos_embed_max_size": 192, "qk_norm": "rms",
    "pos_embed_scaling_factor": None, "x_block_self_attn_layers": [0],
    "context_embedder_config": {"target": "torch.nn.Linear", "params": {"in_features": 4096, "out_features": 128}},
}
SD3_VAE = dict(SD_VAE, z_channels=16)


def main(comfy_dir: str, out: str) -> None:
    import_comfy(comfy_dir)
    import comfy.supported_models
    import comfy.text_encoders.sd3_clip

    clip = comfy.text_encoders.sd3_clip.SD3ClipModel(clip_l=True, clip_g=False, t5=False, device="cpu",
                                                     dtype=torch.float32)
    write_checkpoint(out, comfy.supported_models.SD3, SD35_TINY_MMDIT, clip, SD3_VAE, 16)


if __name__ == "__main__":
    main(*sys.argv[1:3])
