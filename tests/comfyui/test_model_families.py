"""Every model family this ComfyUI snapshot ships, built tiny from its own classes, through its
real sampling path.

Each family is the snapshot's supported_models config (the class its checkpoint loader picks)
with a tiny unet_config, made into a model by the config's own get_model (with the state-dict
keys that select a variant, e.g. "v_pred" + "ztsnr" for SDXL v-prediction with zero terminal SNR,
"edm_mean" for Playground 2.5), random weights, CPU, float32, wrapped in ComfyUI's ModelPatcher.
X0, LCM and IMG_TO_IMG are the SD1.5 model through ComfyUI's ModelSamplingDiscrete node. The
conditioning is what each model's extra_conds reads (pooled output, llama3 states, attention
masks), random. Video and audio families get their 5-D and 3-D latents.

Checks per family: the model type is the family's (so no family silently falls back to another);
every sampler name of ours through comfy.sample.sample (finite, one callback a step); the same seed
gives the same latent, another seed another; batch item i equals a batch-of-one run with seed + i
(the solver's per-item noise; the starting noise is ComfyUI's); the first sigma handled as
ComfyUI's offset_first_sigma_for_snr handles it (flow models: a first sigma of 1 moved just below
1); KSampler (ER-SDE)'s `reference` scheme with `noise_type` comfyui against stock `er_sde`
(REFERENCE_BOUND); `er_sde_solver_auto` through SamplerCustomAdvanced's CFGGuider following the
guider's cfg.

In the snapshot (ComfyUI a125cd8) and tested: all families listed in FAMILIES. Not in it: none of
the issue's list is missing (Cosmos has both its EDM (Cosmos-1 T2V) and RFLOW (Predict2) models;
Chroma Radiance, pixel space, is there).

ComfyUI 0.33 adds the families of FAMILIES_0_33_IMAGE and FAMILIES_0_33_AV, collected only where the
host has their config (0.3.64 runs its own). Its image models are all flow models (CONST), among
them the pixel-space HiDream-O1 (noise_scale 8, which stock er_sde and our `reference` both apply),
Z-Image pixel space, PixelDiT and PiD (an upscaler sampled from a low-quality latent). 0.33's params
dataclasses require fields that 0.3.64's reject (FluxParams.txt_ids_dims, ...): Family.new_fields
sets each only where the host's class has it, so one entry builds on both versions.
"""
from __future__ import annotations

import dataclasses
import importlib
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

STEPS = 3
REFERENCE_STEPS = 4  # order 3's third stage needs a fourth sigma above 0
CFG = 2.0
SEED = 7
# max |reference + comfyui noise - er_sde| / max |er_sde|, 4 "simple" steps, cfg 2, batch 2:
# er_sde's 200-point float32 Riemann sums against exact integrals. Measured per family in
# docs/hosts.md#model-families: 2.2e-6 (X0) to 2.5e-4 (Z-Image, ComfyUI 0.33); the bound is 2.4 times
# the largest. The default gaussian noise lands 0.06 (Stable Cascade) to 1.9 (HiDream-O1) away.
REFERENCE_BOUND = 6e-4


def _ctx(dim: int = 16, tokens: int = 4, **extra: Callable[[], Any]) -> Callable[[], tuple]:
    def make() -> tuple:
        g = torch.Generator().manual_seed(2)
        return torch.randn(1, tokens, dim, generator=g), {k: f() for k, f in extra.items()}
    return make


def _pooled(*shape: int) -> Callable[[], torch.Tensor]:
    return lambda: torch.randn(*(shape or (1, 16)), generator=torch.Generator().manual_seed(3))


def _long_mask() -> torch.Tensor:
    return torch.ones(1, 4, dtype=torch.long)  # what ComfyUI's T5/Gemma encoders hand over


def _sd2_v_marker() -> dict:
    # SD20.model_type: v-prediction when this norm bias has std > 0.09 (as in SD2's 768-v checkpoints)
    return {"output_blocks.11.1.transformer_blocks.0.norm1.bias": torch.linspace(-1.0, 1.0, 16)}


def _stable_audio_conditioners() -> dict:
    """StableAudio's get_model loads its seconds_start / seconds_total embedders from the checkpoint."""
    from comfy.ldm.audio.embedders import NumberConditioner
    out = {}
    for name in ("seconds_start", "seconds_total"):
        module = NumberConditioner(768, min_val=0, max_val=512)
        _init(module, 5)
        out.update({f"conditioner.conditioners.{name}.{k}": v for k, v in module.state_dict().items()})
    return out


UNET = {"in_channels": 4, "out_channels": 4, "model_channels": 32, "num_res_blocks": [1, 1],
        "channel_mult": [1, 2], "transformer_depth": [1, 0], "transformer_depth_output": [1, 1, 0, 0],
        "transformer_depth_middle": 0, "context_dim": 16, "use_linear_in_transformer": True,
        "adm_in_channels": None, "use_temporal_attention": False, "image_size": 32,
        "use_spatial_transformer": True, "legacy": False, "num_heads": 2, "num_head_channels": -1}
SDXL_UNET = dict(UNET, adm_in_channels=16 + 1536, num_classes="sequential")  # pooled 16 + 6 size embeddings
FLUX = dict(in_channels=16, out_channels=16, vec_in_dim=16, context_in_dim=16, hidden_size=32, mlp_ratio=2.0,
            num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[4, 6, 6], theta=10000, patch_size=2, qkv_bias=True)
CHROMA = dict(FLUX, in_channels=64, out_channels=64, in_dim=64, out_dim=32, hidden_dim=32, n_layers=1)
del CHROMA["vec_in_dim"]
# Fields that ComfyUI 0.33's params dataclasses require and 0.3.64's reject: a family's build adds
# each only where the host's class has the field (Family.new_fields), so one entry builds on both.
FLUX_NEW = ("comfy.ldm.flux.model.FluxParams", {"txt_ids_dims": []})
CHROMA_NEW = ("comfy.ldm.chroma.model.ChromaParams", {"txt_ids_dims": [], "vec_in_dim": None})
CHROMA_RADIANCE_NEW = ("comfy.ldm.chroma_radiance.model.ChromaRadianceParams",
                       dict(CHROMA_NEW[1], use_x0=False, use_sequential_txt_ids=False))
HUNYUAN_VIDEO_NEW = ("comfy.ldm.hunyuan_video.model.HunyuanVideoParams",
                     {"use_cond_type_embedding": False, "vision_in_dim": None, "meanflow_sum": False})
WAN = dict(dim=32, ffn_dim=64, num_heads=2, num_layers=1, text_dim=16, freq_dim=32, patch_size=(1, 2, 2))
COSMOS = dict(max_img_h=16, max_img_w=16, max_frames=8, in_channels=16, out_channels=16, patch_spatial=2,
              patch_temporal=1, model_channels=32, num_blocks=1, num_heads=2, concat_padding_mask=True,
              crossattn_emb_channels=16, pos_emb_cls="rope3d", pos_emb_interpolation="crop", use_adaln_lora=True,
              adaln_lora_dim=8)
# ComfyUI 0.33's image models (FAMILIES_0_33_IMAGE). Flux 2 as model_detection lays it out: patch 1
# over 128 latent channels, global modulation, no pooled vector
FLUX2 = dict(in_channels=128, out_channels=128, vec_in_dim=None, context_in_dim=16, hidden_size=32, mlp_ratio=3.0,
             num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[4, 4, 4, 4], theta=2000, patch_size=1,
             qkv_bias=False, guidance_embed=True, txt_ids_dims=[3], global_modulation=True, mlp_silu_act=True,
             ops_bias=False, default_ref_method="index", ref_index_scale=10.0)
# z_image_modulation embeds the timestep in 256 features for dims of 256 and more (Z-Image's is 3840)
Z_IMAGE = dict(patch_size=2, in_channels=16, dim=256, n_layers=1, n_refiner_layers=1, n_heads=16, n_kv_heads=16,
               multiple_of=16, ffn_dim_multiplier=8.0 / 3.0, qk_norm=True, cap_feat_dim=16, axes_dims=[4, 6, 6],
               axes_lens=[32, 32, 32], rope_theta=256.0, z_image_modulation=True, time_scale=1000.0)
PIXEL_DIT = dict(in_channels=3, num_groups=2, hidden_size=32, pixel_hidden_size=8, pixel_attn_hidden_size=16,
                 pixel_num_groups=2, patch_depth=1, pixel_depth=1, patch_size=4, txt_embed_dim=16, txt_max_length=8)


def _hidream_o1_cond() -> tuple:
    """HiDream-O1's text encoder hands over token ids in its chat template, ending <|boi|><|tms|>
    (the timestep's token), with the ids as a float surrogate cross_attn: the Qwen3-VL backbone inside
    the diffusion model embeds them."""
    from comfy.text_encoders import hidream_o1 as te
    words = torch.randint(1000, 2000, (4,), generator=torch.Generator().manual_seed(4)).tolist()
    ids = torch.tensor([[te.IM_START_ID, te.USER_ID, te.NEWLINE_ID, *words, te.IM_END_ID, te.NEWLINE_ID,
                         te.IM_START_ID, te.ASSISTANT_ID, te.NEWLINE_ID, te.BOI_TOKEN_ID, te.TMS_TOKEN_ID]])
    return ids.unsqueeze(-1).float(), {"text_input_ids": ids}


@dataclass(frozen=True)
class Family:
    config: str                      # comfy.supported_models class
    unet: dict                       # tiny unet_config
    latent: tuple                    # one item's latent shape
    cond: Callable[[], tuple]        # (cross_attn, extras of the conditioning dict)
    prediction: str                  # the comfy.model_sampling prediction class the model must get
    state_dict: Callable[[], dict] | tuple = ()  # keys (or a state dict) that select the variant
    sampling: str | None = None      # ComfyUI's ModelSamplingDiscrete node applied with this value
    extra: dict = field(default_factory=dict)
    new_fields: tuple = ()           # (params dataclass, {field: value}): set where the host has the field
    # check -> what ComfyUI itself gets wrong there (its own samplers fail that check the same way), read by the
    # check: "batch" (a batch item depends on its batch), "batch_of_one" (the model refuses a batch > 1),
    # "sigmas" (a flow prediction on sigmas above 1, where stock er_sde returns NaN: every check runs ours there)
    host_fault: dict = field(default_factory=dict)


FAMILIES: dict[str, Family] = {
    "SD1.5": Family("SD15", UNET, (4, 8, 8), _ctx(), "EPS"),
    "SD2-v": Family("SD20", UNET, (4, 8, 8), _ctx(), "V_PREDICTION", _sd2_v_marker),
    "SDXL": Family("SDXL", SDXL_UNET, (4, 8, 8), _ctx(pooled_output=_pooled()), "EPS"),
    "SDXL v-pred zsnr": Family("SDXL", SDXL_UNET, (4, 8, 8), _ctx(pooled_output=_pooled()), "V_PREDICTION",
                               ("v_pred", "ztsnr")),
    "Playground 2.5 (EDM)": Family("SDXL", SDXL_UNET, (4, 8, 8), _ctx(pooled_output=_pooled()), "EDM",
                                   ("edm_mean", "edm_std")),
    "SD3.5": Family("SD3", dict(in_channels=16, out_channels=16, patch_size=2, depth=1, adm_in_channels=16,
                                pos_embed_max_size=8, num_patches=64, qk_norm="rms", x_block_self_attn_layers=[0],
                                context_embedder_config={"target": "torch.nn.Linear",
                                                         "params": {"in_features": 16, "out_features": 64}}),
                    (16, 8, 8), _ctx(pooled_output=_pooled()), "CONST"),
    "Flux dev": Family("Flux", dict(FLUX, guidance_embed=True), (16, 8, 8),
                       _ctx(pooled_output=_pooled(), guidance=lambda: 3.5), "CONST", new_fields=FLUX_NEW),
    "Flux schnell": Family("FluxSchnell", dict(FLUX, guidance_embed=False), (16, 8, 8),
                           _ctx(pooled_output=_pooled()), "CONST", new_fields=FLUX_NEW),
    "AuraFlow": Family("AuraFlow", dict(max_seq=64, cond_seq_dim=16, n_double_layers=1, n_layers=2, dim=32, n_heads=2,
                                        global_conddim=32, patch_size=2, in_channels=4, out_channels=4),
                       (4, 8, 8), _ctx(), "CONST"),
    "Wan 2.1": Family("WAN21_T2V", dict(WAN, in_dim=16, out_dim=16), (16, 2, 8, 8), _ctx(), "CONST"),
    "Wan 2.2": Family("WAN22_T2V", dict(WAN, in_dim=48, out_dim=48), (48, 2, 8, 8), _ctx(), "CONST"),
    "HunyuanVideo": Family("HunyuanVideo", dict(FLUX, patch_size=[1, 2, 2], theta=256, guidance_embed=True,
                                                byt5=False, meanflow=False),
                           (16, 2, 8, 8), _ctx(pooled_output=_pooled()), "CONST", new_fields=HUNYUAN_VIDEO_NEW),
    "LTXV": Family("LTXV", dict(in_channels=128, cross_attention_dim=32, attention_head_dim=16, num_attention_heads=2,
                                caption_channels=16, num_layers=1),
                   (128, 2, 2, 2), _ctx(attention_mask=_long_mask), "CONST"),
    "Cosmos EDM (Cosmos-1 T2V)": Family(
        "CosmosT2V", dict(COSMOS, block_config="FA-CA-MLP", pos_emb_learnable=False, block_x_format="THWBD",
                          affline_emb_norm=True, extra_per_block_abs_pos_emb=True,
                          extra_per_block_abs_pos_emb_type="learnable"),
        (16, 2, 8, 8), _ctx(), "EDM"),
    "Cosmos RFLOW (Predict2)": Family(
        "CosmosT2IPredict2", dict(COSMOS, pos_emb_learnable=True, min_fps=1, max_fps=30,
                                  extra_per_block_abs_pos_emb=False, rope_enable_fps_modulation=False),
        (16, 1, 8, 8), _ctx(), "COSMOS_RFLOW"),
    "Stable Cascade (stage C)": Family(
        "Stable_Cascade_C", dict(c_in=16, c_out=16, c_r=8, c_cond=32, c_hidden=[32, 32], nhead=[2, 2],
                                 blocks=[[1, 1], [1, 1]], block_repeat=[[1, 1], [1, 1]], c_clip_text=16,
                                 c_clip_text_pooled=16, c_clip_img=768, c_clip_seq=4),
        (16, 8, 8), _ctx(pooled_output=_pooled(1, 1, 16)), "EPS"),
    "Lumina2": Family("Lumina2", dict(patch_size=2, in_channels=16, dim=32, n_layers=1, n_refiner_layers=1, n_heads=2,
                                      n_kv_heads=1, multiple_of=16, qk_norm=True, cap_feat_dim=16, axes_dims=[4, 6, 6],
                                      axes_lens=[32, 32, 32]),
                      (16, 8, 8), _ctx(attention_mask=_long_mask), "CONST"),
    "Qwen-Image": Family("QwenImage", dict(in_channels=64, out_channels=16, num_layers=1, attention_head_dim=16,
                                           num_attention_heads=2, joint_attention_dim=16, axes_dims_rope=(4, 6, 6)),
                         (16, 8, 8), _ctx(), "CONST"),
    "Chroma": Family("Chroma", CHROMA, (16, 8, 8), _ctx(pooled_output=_pooled()), "CONST", new_fields=CHROMA_NEW),
    "Chroma Radiance (pixels)": Family(
        "ChromaRadiance", dict(CHROMA, in_channels=3, out_channels=3, patch_size=4, nerf_hidden_size=8,
                               nerf_mlp_ratio=2, nerf_depth=1, nerf_max_freqs=2, nerf_tile_size=0,
                               nerf_final_head_type="conv", nerf_embedder_dtype=torch.float32),
        (3, 16, 16), _ctx(pooled_output=_pooled()), "CONST", new_fields=CHROMA_RADIANCE_NEW),
    "HiDream": Family("HiDream", dict(patch_size=2, in_channels=16, out_channels=16, num_layers=1, num_single_layers=1,
                                      attention_head_dim=16, num_attention_heads=2, caption_channels=[16, 16],
                                      text_emb_dim=16, num_routed_experts=2, num_activated_experts=1,
                                      axes_dims_rope=(8, 4, 4), max_resolution=(16, 16), llama_layers=[0, 0]),
                      (16, 8, 8), _ctx(pooled_output=_pooled(),
                                       conditioning_llama3=lambda: torch.randn(1, 1, 4, 16,
                                                                               generator=torch.Generator().manual_seed(4))),
                      "CONST"),
    # cross-attention reads 768-wide text in heads of embed_dim / num_heads: ComfyUI 0.33's attention needs
    # the query heads to be a multiple of those key/value heads (768 / 64 = 12), as in Stable Audio's 1536 / 24
    "Stable Audio": Family("StableAudio", dict(io_channels=64, embed_dim=768, depth=1, num_heads=12, cond_token_dim=768,
                                               global_cond_dim=1536),
                           (64, 16), _ctx(768), "V_PREDICTION", _stable_audio_conditioners),
    "IMG_TO_IMG (ModelSamplingDiscrete)": Family("SD15", UNET, (4, 8, 8), _ctx(), "IMG_TO_IMG", sampling="img_to_img"),
    "X0 (ModelSamplingDiscrete)": Family("SD15", UNET, (4, 8, 8), _ctx(), "X0", sampling="x0"),
    "LCM (ModelSamplingDiscrete)": Family("SD15", UNET, (4, 8, 8), _ctx(), "LCM", sampling="lcm"),
}

# Model classes ComfyUI 0.33 added (comfy.supported_models.models) that samplers run: image models.
# A family whose config the host lacks (0.3.64) is not collected there (see host_model_classes).
FAMILIES_0_33_IMAGE: dict[str, Family] = {
    "Flux2": Family("Flux2", FLUX2, (128, 4, 4), _ctx(guidance=lambda: 4.0), "CONST"),
    # 32-pixel patches; sampling_settings noise_scale 8, by which stock samplers and ours scale their noise
    "HiDream-O1 (pixels)": Family(
        "HiDreamO1", dict(text_config_overrides=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                     num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                                     rope_dims=[4, 2, 2]),
                          vision_config_overrides=dict(hidden_size=16, num_heads=2, intermediate_size=32, depth=1,
                                                       num_position_embeddings=16, deepstack_visual_indexes=())),
        (3, 64, 64), _hidream_o1_cond, "CONST"),
    "Z-Image": Family("ZImage", Z_IMAGE, (16, 8, 8), _ctx(attention_mask=_long_mask), "CONST"),
    "Z-Image pixel space": Family(
        "ZImagePixelSpace", dict(Z_IMAGE, in_channels=3, patch_size=4, decoder_hidden_size=16,
                                 decoder_num_res_blocks=1, decoder_max_freqs=2),
        (3, 16, 16), _ctx(attention_mask=_long_mask), "CONST"),
    # grouped-query attention as Krea 2's (kvheads divides heads: ComfyUI 0.33's attention refuses others);
    # the text encoder hands over txtlayers hidden states stacked in the feature axis
    "Krea 2": Family("Krea2", dict(features=32, tdim=16, txtdim=16, heads=2, kvheads=1, multiplier=2, layers=1,
                                   patch=2, channels=16, txtlayers=2, txtheads=2, txtkvheads=2),
                     (16, 8, 8), _ctx(2 * 16), "CONST"),
    "LongCat-Image": Family("LongCatImage", dict(FLUX, vec_in_dim=None, guidance_embed=False, txt_ids_dims=[1, 2]),
                            (16, 8, 8), _ctx(), "CONST"),
    "ERNIE-Image": Family("ErnieImage", dict(hidden_size=32, num_attention_heads=2, num_layers=1, ffn_hidden_size=64,
                                             in_channels=128, out_channels=128, patch_size=1, text_in_dim=16,
                                             rope_axes_dim=(4, 6, 6)),
                          (128, 4, 4), _ctx(), "CONST"),
    "JoyImage": Family("JoyImage", dict(patch_size=[1, 2, 2], in_channels=16, hidden_size=32, num_attention_heads=2,
                                        text_dim=16, mlp_width_ratio=2.0, num_layers=1, rope_dim_list=[4, 6, 6]),
                       (16, 8, 8), _ctx(), "CONST"),
    # Qwen3 0.6B states and T5 ids through Anima's LLM adapter (its dims are fixed: 1024, 6 layers)
    "Anima": Family("Anima", dict(COSMOS, crossattn_emb_channels=1024, pos_emb_learnable=True, min_fps=1, max_fps=30,
                                  extra_per_block_abs_pos_emb=False, rope_enable_fps_modulation=False),
                    (16, 8, 8), _ctx(1024, t5xxl_ids=lambda: torch.tensor([5, 17, 99, 1]),
                                     t5xxl_weights=lambda: torch.ones(4)), "CONST"),
    "Kandinsky 5 image": Family(
        "Kandinsky5Image", dict(in_visual_dim=16, out_visual_dim=16, in_text_dim=16, in_text_dim2=16, time_dim=16,
                                model_dim=32, ff_dim=64, visual_embed_dim=64, patch_size=(1, 2, 2), num_text_blocks=1,
                                num_visual_blocks=1, axes_dims=(4, 6, 6), rope_scale_factor=(1.0, 1.0, 1.0)),
        (16, 8, 8), _ctx(pooled_output=_pooled()), "CONST"),
    "Ideogram 4": Family("Ideogram4", dict(in_channels=128, num_layers=1, num_attention_heads=2, attention_head_dim=16,
                                           intermediate_size=64, adaln_dim=16, llm_features_dim=16,
                                           mrope_section=[4, 2, 2]),
                         (128, 4, 4), _ctx(attention_mask=_long_mask), "CONST"),
    "Boogu": Family("Boogu", dict(patch_size=2, in_channels=16, hidden_size=32, num_layers=1,
                                  num_double_stream_layers=1, num_refiner_layers=1, num_attention_heads=2,
                                  num_kv_heads=1, multiple_of=16, axes_dim_rope=(4, 6, 6), axes_lens=(32, 32, 32),
                                  instruction_feat_dim=16),
                    (16, 8, 8), _ctx(attention_mask=_long_mask), "CONST"),
    "Mage-Flow": Family("MageFlow", dict(in_channels=128, out_channels=128, num_layers=1, attention_head_dim=16,
                                         num_attention_heads=2, joint_attention_dim=16, axes_dims_rope=(4, 6, 6)),
                        (128, 4, 4), _ctx(), "CONST"),
    "PixelDiT (pixels)": Family("PixelDiTT2I", PIXEL_DIT, (3, 16, 16), _ctx(attention_mask=_long_mask), "CONST"),
    # Lens reads 4 text-encoder layers, stacked in the feature axis as its text encoder hands them over
    "Lens": Family("Lens", dict(patch_size=2, in_channels=128, out_channels=32, num_layers=1, attention_head_dim=16,
                                num_attention_heads=2, enc_hidden_dim=16, axes_dims_rope=(4, 6, 6),
                                selected_layer_index=(0, 1, 2, 3)),
                   (128, 4, 4), _ctx(4 * 16, attention_mask=_long_mask), "CONST"),
    # an upscaler: the low-quality latent and degrade sigma that PiDConditioning attaches
    "PiD (pixels)": Family("PiD", dict(PIXEL_DIT, lq_latent_channels=16, lq_hidden_dim=16, lq_num_res_blocks=1,
                                       lq_interval=1, sr_scale=4, latent_spatial_down_factor=8),
                           (3, 16, 16), _ctx(attention_mask=_long_mask, lq_latent=_pooled(1, 16, 2, 2),
                                             degrade_sigma=lambda: torch.tensor([0.0])), "CONST"),
}

HUNYUAN_VIDEO_15 = dict(in_channels=65, out_channels=32, vec_in_dim=None, context_in_dim=16, hidden_size=32,
                        mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[4, 6, 6], theta=256,
                        patch_size=[1, 2, 2], qkv_bias=True, guidance_embed=False, byt5=False, meanflow=False,
                        use_cond_type_embedding=True, meanflow_sum=True)  # noise 32 + image 32 + mask 1 in; the config's vision_in_dim 1152 kept
COGVIDEOX = dict(num_attention_heads=2, attention_head_dim=16, in_channels=16, out_channels=16, time_embed_dim=32,
                 text_embed_dim=16, num_layers=1, sample_width=8, sample_height=8, sample_frames=5,
                 use_rotary_positional_embeddings=True)


def _video_concat(channels: int, frames: int = 2, size: int = 8) -> Callable[[], torch.Tensor]:
    """An image-to-video / inpainting model's concat latent (what its encode node puts in the conditioning)."""
    return lambda: torch.randn(1, channels, frames, size, size, generator=torch.Generator().manual_seed(5))


# SCAIL's reference image latent and pose video latent (its pose-driven animation conditioning)
SCAIL_CONDS = _ctx(reference_latents=lambda: [_video_concat(16, frames=1)()], pose_video_latent=_video_concat(16))


def _stable_audio_3_conditioner() -> dict:
    """StableAudio3's get_model loads its seconds_total embedder (expo features) from the checkpoint."""
    from comfy.ldm.audio.embedders import NumberConditioner
    module = NumberConditioner(768, min_val=0, max_val=384, fourier_features_type="expo")
    _init(module, 5)
    return {f"conditioner.conditioners.seconds_total.{k}": v for k, v in module.state_dict().items()}


def _trellis2_coords() -> torch.Tensor:
    """Eight occupied voxels (batch index, x, y, z) of a 16^3 grid, as Trellis2's shape conditioning hands them
    over."""
    xyz = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12], [2, 2, 2], [3, 9, 1], [15, 0, 7], [8, 8, 8]])
    return torch.cat([torch.zeros(8, 1, dtype=torch.long), xyz], dim=1)


# Model classes ComfyUI 0.33 added that samplers run: video, audio and 3-D models.
FAMILIES_0_33_AV: dict[str, Family] = {
    "Wan 2.1 causal AR (Self-Forcing)": Family("WAN21_CausalAR_T2V", dict(WAN, in_dim=16, out_dim=16), (16, 2, 8, 8),
                                              _ctx(), "CONST"),
    "Wan 2.1 FlowRVS": Family("WAN21_FlowRVS", dict(WAN, in_dim=16, out_dim=16), (16, 2, 8, 8), _ctx(),
                              "IMG_TO_IMG_FLOW",
                              host_fault={"sigmas": "model_base.model_sampling gives ModelType.IMG_TO_IMG_FLOW the "
                                                    "ModelSamplingDiscrete schedule (sigmas 14.6 to 0.03)"}),
    "Wan 2.1 SCAIL": Family("WAN21_SCAIL", dict(WAN, in_dim=20, out_dim=16), (16, 2, 8, 8), SCAIL_CONDS, "CONST"),
    "Wan 2.1 SCAIL-2": Family("WAN21_SCAIL2", dict(WAN, in_dim=20, out_dim=16, mask_in_dim=28), (16, 2, 8, 8),
                              SCAIL_CONDS, "CONST"),
    "Wan 2.2 WanDancer": Family("WAN22_WanDancer", dict(WAN, in_dim=36, out_dim=16, audio_inject_layers=[0],
                                                       music_dim=16, music_heads=2, music_latent_dim=16),
                                (16, 2, 8, 8), _ctx(concat_latent_image=_video_concat(16)), "CONST"),
    "Wan Animate 2": Family("WAN_Animate2", dict(WAN, in_dim=36, out_dim=16), (16, 2, 8, 8),  # pose: all but frame 0
                            _ctx(concat_latent_image=_video_concat(16), pose_video_latent=_video_concat(16, frames=1)),
                            "CONST"),
    "HunyuanVideo 1.5": Family("HunyuanVideo15", HUNYUAN_VIDEO_15, (32, 2, 8, 8),
                               _ctx(pooled_output=lambda: None, concat_latent_image=_video_concat(32)), "CONST"),
    "HunyuanVideo 1.5 SR distilled": Family(
        "HunyuanVideo15_SR_Distilled", dict(HUNYUAN_VIDEO_15, in_channels=98, meanflow=True), (32, 2, 8, 8),
        _ctx(pooled_output=lambda: None, concat_latent_image=_video_concat(66)), "CONST"),
    "Kandinsky 5": Family("Kandinsky5", dict(in_visual_dim=16, out_visual_dim=16, in_text_dim=16, in_text_dim2=16,
                                            time_dim=16, model_dim=32, ff_dim=64, visual_embed_dim=132,
                                            num_text_blocks=1, num_visual_blocks=1, axes_dims=(4, 6, 6)),
                          (16, 2, 8, 8), _ctx(pooled_output=_pooled()), "CONST"),
    "LTX-2 (LTXAV, video + audio)": Family(
        "LTXAV", dict(in_channels=128, audio_in_channels=128, cross_attention_dim=32, audio_cross_attention_dim=16,
                      attention_head_dim=16, audio_attention_head_dim=8, num_attention_heads=2,
                      audio_num_attention_heads=2, caption_channels=16, num_layers=1, connector_attention_head_dim=8,
                      connector_num_attention_heads=2, connector_num_layers=1),
        # the text encoder's output after its connectors (video 16 + audio 16), as ComfyUI's LTX-2 encoder hands it over
        ((128, 2, 2, 2), (8, 4, 16)), _ctx(32), "CONST"),
    "SeedVR2": Family("SeedVR2", dict(norm_eps=1e-5, num_layers=2, mlp_type="swiglu", vid_dim=32, txt_in_dim=16,
                                      heads=2, head_dim=16, mm_layers=2, rope_dim=16, vid_out_norm=True),
                      (16, 2, 8, 8), _ctx(condition=_video_concat(17)), "CONST"),
    "Stable Audio 3": Family("StableAudio3", dict(io_channels=256, embed_dim=64, depth=1, num_heads=1,
                                                  cond_token_dim=768, project_cond_tokens=True, global_cond_dim=768,
                                                  global_cond_type="adaLN", timestep_features_type="expo",
                                                  local_add_cond_dim=257),
                             (256, 16), _ctx(768), "CONST", _stable_audio_3_conditioner),
    "ACE-Step 1.5": Family("ACEStep15", dict(in_channels=192, hidden_size=32, text_hidden_dim=16, num_dit_layers=2,
                                            num_lyric_layers=1, num_timbre_layers=1, num_tokenizer_layers=1,
                                            num_heads=2, num_kv_heads=1, head_dim=16, intermediate_size=64,
                                            sliding_window=8, fsq_dim=32, encoder_hidden_size=32,
                                            encoder_intermediate_size=64, encoder_num_heads=2),
                           (64, 10), _ctx(conditioning_lyrics=_pooled(1, 4, 16)), "CONST",
                           host_fault={"batch": "AceStepConditionGenerationModel.forward puts every batch item's "
                                                "timbre reference in item 0 (refer_audio_order_mask all zeros)"}),
    "TripoSplat (3-D gaussian splats)": Family(
        "TripoSplat", dict(q_token_length=16, in_channels=16, model_channels=32, cond_channels=16, out_channels=16,
                           num_blocks=1, num_refiner_blocks=1, num_head_channels=16, cond2_channels=16, mlp_ratio=2),
        ((16, 16), (1, 5)), _ctx(), "CONST"),  # the splat latent's tokens and the camera token: a NestedTensor
    # the shape stage: a sparse latent of 8 voxels' features (32, tokens, 1) with their coordinates; the structure
    # stage's dense 16^3 latent (EmptyTrellis2LatentStructure's fixed shape) costs seconds a step on a CPU
    "Trellis 2 (3-D shape)": Family(
        "Trellis2", dict(resolution=16, model_channels=32, cond_channels=16, num_blocks=1, num_heads=2, mlp_ratio=2.0),
        (32, 8, 1), _ctx(embeds=_pooled(1, 4, 16), trellis2_generation_mode=lambda: "shape_generation",
                         trellis2_coords=_trellis2_coords, trellis2_coord_counts=lambda: torch.tensor([8])),
        "CONST"),
    "MiniMax H3 (video + audio)": Family(
        "MiniMaxH3", dict(hidden_size=32, num_layers=1, token_refiner_num_layers=1, num_attention_heads=2,
                          attention_head_dim=16, ffn_hidden_size=64, latents_dim=24, audio_latents_dim=32, text_dim=16,
                          timestep_input_dim=32, time_embed_hidden_size=32, time_embed_dim=16, rope_inv_freq_len=2),
        ((24, 2, 4, 4), (32, 2, 8)), _ctx(), "CONST",  # the audio length MiniMaxH3AV.fix_empty_latent gives
        host_fault={"batch_of_one": "MiniMaxH3Model raises 'MiniMax H3 supports batch size 1'"}),
    "CogVideoX T2V": Family("CogVideoX_T2V", COGVIDEOX, (16, 2, 8, 8), _ctx(), "V_PREDICTION_DDPM"),
    "CogVideoX I2V": Family("CogVideoX_I2V", dict(COGVIDEOX, in_channels=32), (16, 2, 8, 8),
                            _ctx(concat_latent_image=_video_concat(16, frames=1)), "V_PREDICTION_DDPM"),
    "CogVideoX inpaint (Fun)": Family("CogVideoX_Inpaint", dict(COGVIDEOX, in_channels=48), (16, 2, 8, 8),
                                      _ctx(concat_latent_image=_video_concat(32)), "V_PREDICTION_DDPM"),
}

# Model classes ComfyUI 0.33 added that no sampler runs (they are no sampler's target), and why.
NOT_SAMPLER_TARGETS: dict[str, str] = {
    "SAM3": "segmentation model (SAM 3): its nodes call the detector/tracker directly, no diffusion sampling",
    "SAM31": "segmentation model (SAM 3.1): its nodes call the detector/tracker directly, no diffusion sampling",
    "RT_DETR_v4": "object detector (RT-DETR v4): its node calls the network on the image, no diffusion sampling",
    "DepthAnything3": "depth / geometry estimator (Depth Anything 3): its nodes call the network, no diffusion "
                      "sampling",
}

# Model classes ComfyUI 0.33 added that samplers do run but that cannot be built tiny from their own
# classes, and why: the matrix leaves them out, named, rather than build a different model.
TOO_LARGE_TO_BUILD_TINY: dict[str, str] = {
    "MiniMaxMusic3": "MiniMaxMusic3DiT hard-codes its sizes (2.46e9 parameters whatever the unet_config: 10 GB in "
                     "float32), too large for a CPU matrix; its model sampling is plain discrete flow (CONST), "
                     "which every flow family here covers",
}

FAMILIES.update(FAMILIES_0_33_IMAGE)
FAMILIES.update(FAMILIES_0_33_AV)


# what the host has, read from its source at collection time (tests/comfyui/host_source.py)
HOST_SOURCE = runpy.run_path(str(Path(__file__).with_name("host_source.py")))


HOST_MODEL_CLASSES = HOST_SOURCE["model_classes"]()  # None without COMFYUI_DIR
NAMES = [name for name, f in FAMILIES.items() if HOST_MODEL_CLASSES is None or f.config in HOST_MODEL_CLASSES]


def _init(module: torch.nn.Module, seed: int) -> None:
    """ComfyUI's layers skip weight init: small deterministic random weights, norms around 1. So do
    some persistent buffers, which a checkpoint fills (SD3's pos_embed, Stable Audio's rotary
    inv_freq are uninitialised memory until then): every persistent float buffer gets them too."""
    g = torch.Generator().manual_seed(seed)
    persistent = set(module.state_dict())
    buffers = [(n, b) for n, b in module.named_buffers() if n in persistent and b.is_floating_point()]
    with torch.no_grad():
        for name, p in list(module.named_parameters()) + buffers:
            value = torch.randn(p.shape, generator=g) * 0.05
            if "norm" in name and (name.endswith("weight") or name.endswith("scale")):
                value += 1.0
            p.copy_(value)


_BUILT: dict[str, Any] = {}  # name -> (model patcher, positive, negative, one item's latent shape)


@pytest.fixture(scope="module", autouse=True)
def one_thread_and_built_models():
    """One torch thread while these run: the models are so small that handing each op to a second
    thread costs more than the op (and on a shared CI machine oversubscribes it). The built models
    are dropped here, while ComfyUI's modules are still alive to detach them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    _BUILT.clear()


def _build(host: Any, name: str) -> Any:
    if name in _BUILT:
        return _BUILT[name]
    import comfy.model_patcher
    import comfy.sample
    import comfy.supported_models
    family = FAMILIES[name]
    cpu = torch.device("cpu")
    cls = getattr(comfy.supported_models, family.config)
    unet = dict(family.unet)
    if family.new_fields:
        path, values = family.new_fields
        module, params = path.rsplit(".", 1)
        have = {f.name for f in dataclasses.fields(getattr(importlib.import_module(module), params))}
        unet.update({k: v for k, v in values.items() if k in have})
    config = cls(dict(cls.unet_config, **unet))
    config.unet_config.update(unet)  # over the config's unet_extra_config (head counts)
    marks = family.state_dict() if callable(family.state_dict) else {k: torch.zeros(1) for k in family.state_dict}
    model = config.get_model(marks, device=cpu)
    model.diffusion_model.float()
    _init(model.diffusion_model, 0)
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)
    if family.sampling is not None:
        patcher = host.nodes.NODE_CLASS_MAPPINGS["ModelSamplingDiscrete"]().patch(patcher, family.sampling, False)[0]
    cross_attn, extra = family.cond()
    positive = [[cross_attn, extra]]
    negative = [[cross_attn * 0.5, dict(extra)]]
    # the latent an empty-latent node makes, as KSampler fixes it (Qwen-Image's gets a frame axis)
    if isinstance(family.latent[0], tuple):  # several streams (LTX-2's video and audio): a NestedTensor latent
        shape = family.latent
    else:
        shape = tuple(comfy.sample.fix_empty_latent_channels(patcher, torch.zeros((1,) + family.latent)).shape[1:])
    _BUILT[name] = (patcher, positive, negative, shape)
    return _BUILT[name]


@pytest.fixture(params=NAMES)
def family(request, host):
    patcher, positive, negative, _ = _build(host, request.param)
    return request.param, patcher, positive, negative


def _latent(name: str, batch: int = 1) -> Any:
    if isinstance(_BUILT[name][3][0], tuple):
        import comfy.nested_tensor
        return comfy.nested_tensor.NestedTensor([torch.zeros((batch,) + shape) for shape in _BUILT[name][3]])
    return torch.zeros((batch,) + _BUILT[name][3])


def _sample(family, sampler: str = "er_sde_solver_3", *, seed: int = SEED, batch: int = 1, noise=None, latent=None,
            callback=None, cfg: float = CFG, steps: int = STEPS) -> torch.Tensor:
    import comfy.sample
    name, model, positive, negative = family
    latent = _latent(name, batch) if latent is None else latent
    noise = comfy.sample.prepare_noise(latent, seed) if noise is None else noise
    return _packed(comfy.sample.sample(model, noise, steps, cfg, sampler, "simple", positive, negative, latent,
                                       callback=callback, disable_pbar=True, seed=seed))


def _packed(latent: Any) -> torch.Tensor:
    """A NestedTensor latent as the one tensor ComfyUI's samplers run on (comfy.utils.pack_latents)."""
    if not getattr(latent, "is_nested", False):
        return latent
    import comfy.utils
    return comfy.utils.pack_latents(latent.unbind())[0]


# the model classes of ComfyUI 0.3.64, whose families were chosen when this matrix began
CLASSES_0_3_64 = frozenset("""
    ACEStep AuraFlow Chroma ChromaRadiance CosmosI2V CosmosI2VPredict2 CosmosT2IPredict2 CosmosT2V Flux FluxInpaint
    FluxSchnell GenmoMochi HiDream Hunyuan3Dv2 Hunyuan3Dv2_1 Hunyuan3Dv2mini HunyuanDiT HunyuanDiT1 HunyuanImage21
    HunyuanImage21Refiner HunyuanVideo HunyuanVideoI2V HunyuanVideoSkyreelsI2V KOALA_1B KOALA_700M LTXV LotusD Lumina2
    Omnigen2 PixArtAlpha PixArtSigma QwenImage SD15 SD15_instructpix2pix SD20 SD21UnclipH SD21UnclipL SD3 SDXL
    SDXLRefiner SDXL_instructpix2pix SD_X4Upscaler SSD1B SV3D_p SV3D_u SVD_img2vid Segmind_Vega StableAudio
    Stable_Cascade_B Stable_Cascade_C Stable_Zero123 WAN21_Camera WAN21_FunControl2V WAN21_HuMo WAN21_I2V WAN21_T2V
    WAN21_Vace WAN22_Animate WAN22_Camera WAN22_S2V WAN22_T2V""".split())


def test_every_model_class_added_since_0_3_64_is_in_the_matrix_or_named_as_no_sampler_target(host):
    """Every generative model class a newer ComfyUI adds gets a family here; a class that no sampler
    runs (a segmenter, a depth or detection model) is named in NOT_SAMPLER_TARGETS with the reason, and one
    that cannot be built tiny in TOO_LARGE_TO_BUILD_TINY."""
    import comfy.supported_models
    added = {cls.__name__ for cls in comfy.supported_models.models} - CLASSES_0_3_64
    in_matrix = {f.config for f in FAMILIES.values()}
    missing = sorted(added - in_matrix - set(NOT_SAMPLER_TARGETS) - set(TOO_LARGE_TO_BUILD_TINY))
    assert not missing, f"ComfyUI {host.version} model classes with no family and no reason: {missing}"
    both = sorted((set(NOT_SAMPLER_TARGETS) | set(TOO_LARGE_TO_BUILD_TINY)) & in_matrix)
    assert not both, f"named as left out but in the matrix: {both}"


def test_model_is_of_the_familys_type(family):
    name, model, _, _ = family
    classes = {c.__name__ for c in type(model.get_model_object("model_sampling")).__mro__}
    assert FAMILIES[name].prediction in classes, f"{name} built as {sorted(classes)}"


def _refused_where_stock_er_sde_fails(host, family, ours: Callable[[], Any]) -> bool:
    """Family.host_fault["sigmas"]: ComfyUI gives the family a flow prediction (alpha = 1 - sigma) on sigmas
    above 1, where its own er_sde returns NaN; ours (the check's run) must refuse with an ERSDEInputError
    rather than hand back NaN. False (nothing run) for every other family."""
    fault = FAMILIES[family[0]].host_fault.get("sigmas")
    if fault is None:
        return False
    stock = _sample(family, "er_sde")
    assert not torch.isfinite(stock).all(), f"{family[0]}: stock er_sde is finite now: the host fault ({fault}) is gone"
    with pytest.raises(host.ersde.sampling.ERSDEInputError):
        ours()
    return True


def test_every_sampler_name_runs_with_one_callback_per_step(host, family):
    names = host.ersde.names
    name = family[0]
    for sampler in names.SAMPLER_NAMES:
        if _refused_where_stock_er_sde_fails(host, family, lambda: _sample(family, sampler)):
            continue
        seen = []
        out = _sample(family, sampler, callback=lambda i, x0, x, total: seen.append((i, total)))
        assert out.shape == _packed(_latent(name)).shape
        assert torch.isfinite(out).all(), f"{sampler} on {name} gave non-finite values"
        assert seen == [(i, STEPS) for i in range(STEPS)], f"{sampler} on {name}: callbacks {seen}"


def test_same_seed_same_latent_and_batch_item_is_seed_plus_index(host, family):
    import comfy.sample
    name = family[0]
    latent = _latent(name, 2)
    noise = comfy.sample.prepare_noise(latent, 5)
    if _refused_where_stock_er_sde_fails(host, family, lambda: _sample(family, seed=5, latent=latent, noise=noise)):
        return
    first = _sample(family, seed=5, latent=latent[:1], noise=noise[:1])
    assert torch.equal(first, _sample(family, seed=5, latent=latent[:1], noise=noise[:1])), \
        f"{name}: same seed, different latent"
    second = _sample(family, seed=6, latent=latent[1:], noise=noise[1:])
    assert not torch.equal(second, _sample(family, seed=5, latent=latent[1:], noise=noise[1:])), \
        f"{name}: another seed, same latent"
    fault = FAMILIES[name].host_fault
    if "batch" in fault or "batch_of_one" in fault:
        _assert_batch_fails_as_stock_euler(family, latent, noise, fault.get("batch") or fault["batch_of_one"])
        return
    batch = _sample(family, seed=5, latent=latent, noise=noise)
    torch.testing.assert_close(batch[:1], first, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(batch[1:], second, atol=1e-4, rtol=1e-4,
                               msg=lambda m: f"{name}: batch item 1 is not the seed + 1 run: {m}")


def _assert_batch_fails_as_stock_euler(family, latent, noise, fault: str) -> None:
    """Where the host fails batches (Family.host_fault), ComfyUI's own deterministic euler fails the batch check
    too: ours must fail it as euler does, with the same error, or with batch items as far from their
    batch-of-one runs (seed + index) as euler's: the model's own coupling, where a noise shared across the
    batch (stock er_sde) lands about 1 away."""
    name = family[0]
    found = {}
    for sampler in ("euler", "er_sde_solver_3"):
        try:
            batch = _sample(family, sampler, seed=5, latent=latent, noise=noise)
        except Exception as error:  # the host's own refusal, compared below
            found[sampler] = error
            continue
        items = [_sample(family, sampler, seed=5 + i, latent=latent[i:i + 1], noise=noise[i:i + 1]) for i in (0, 1)]
        found[sampler] = max(float((batch[i:i + 1] - items[i]).abs().max()) for i in (0, 1))
    stock, ours = found["euler"], found["er_sde_solver_3"]
    print(f"{name}: batch item vs its batch-of-one run: euler {stock!r}, ours {ours!r} ({fault})")
    if isinstance(stock, Exception):
        assert type(ours) is type(stock) and str(ours) == str(stock), \
            f"{name}: stock euler fails a batch with {stock!r} ({fault}), ours with {ours!r}"
        return
    assert not isinstance(ours, Exception), f"{name}: stock euler samples a batch, ours raises {ours!r}"
    assert stock > 1e-4, f"{name}: stock euler's batch items are their batch-of-one runs now: the host fault is gone"
    assert ours < 10 * stock, f"{name}: a batch item is {ours:.2e} from its seed + index run (euler {stock:.2e})"


def test_first_sigma_handled_as_comfyui_handles_it(host, family):
    import comfy.samplers
    from comfy.k_diffusion import sampling
    name, model, _, _ = family
    ms = model.get_model_object("model_sampling")
    sigmas = comfy.samplers.calculate_sigmas(ms, "simple", STEPS)
    if _refused_where_stock_er_sde_fails(host, family, lambda: _sample(family)):
        return
    ours, alphas = host.ersde.model_type.schedule_for(ms, sigmas)
    assert torch.equal(ours, sampling.offset_first_sigma_for_snr(sigmas, ms))
    if FAMILIES[name].prediction == "CONST":  # a flow schedule starts at 1 (LTXV's shifted one 1 - 6e-8)
        assert float(sigmas[0]) > 0.9999 and 0.99 < float(ours[0]) < 1.0, f"{name}: first sigma {float(ours[0])}"
        torch.testing.assert_close(alphas, 1.0 - ours)
    else:
        assert ours is sigmas and alphas is None, f"{name} must run VE-scaled (alpha = 1)"


def test_reference_with_comfyui_noise_reproduces_er_sde(host, family):
    """KSampler (ER-SDE) with scheme reference + noise_type comfyui against the stock KSampler's
    er_sde (comfy.sample.sample), batch 2 (1 where the model refuses more), the same seed; the default noise
    gives another image."""
    name, model, positive, negative = family
    batch = 1 if "batch_of_one" in FAMILIES[name].host_fault else 2
    latent = {"samples": _latent(name, batch)}
    inputs = dict(model=model, seed=SEED, steps=REFERENCE_STEPS, cfg=CFG, scheduler="simple", positive=positive,
                  negative=negative, latent_image=latent, denoise=1.0, order=3, noise_scale="paper_default",
                  custom_noise_scale="", eta=1.0, s_noise=1.0, scheme="reference")
    if _refused_where_stock_er_sde_fails(host, family, lambda: host.ersde.sampling.ksampler_er_sde(
            **inputs, noise_type="comfyui")):
        return
    ours = _packed(host.ersde.sampling.ksampler_er_sde(**inputs, noise_type="comfyui")["samples"])
    gaussian = _packed(host.ersde.sampling.ksampler_er_sde(**inputs, noise_type="gaussian")["samples"])
    stock = _sample(family, "er_sde", batch=batch, steps=REFERENCE_STEPS)
    scale = float(stock.abs().max())
    d, d_gaussian = float((ours - stock).abs().max()) / scale, float((gaussian - stock).abs().max()) / scale
    print(f"{name}: reference + comfyui noise {d:.2e}, + gaussian noise {d_gaussian:.2e}")
    assert d < REFERENCE_BOUND, f"{name}: reference + comfyui noise is {d:.2e} from er_sde"
    assert d_gaussian > 10 * REFERENCE_BOUND, f"{name}: the default noise is only {d_gaussian:.2e} from er_sde"


def test_er_sde_solver_auto_follows_the_cfg_guiders_cfg(host, family, auto_choices):
    """SamplerCustomAdvanced's path (CFGGuider.sample): er_sde_solver_auto hands the guider's cfg to
    the auto policy and samples exactly as the order and scheme it picks; cfg 1 and 7 pick
    different variants."""
    import comfy.sample
    import comfy.samplers
    name, model, positive, negative = family
    latent = _latent(name)
    noise = comfy.sample.prepare_noise(latent, SEED)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", STEPS)

    def run(cfg: float, sampler) -> torch.Tensor:
        guider = comfy.samplers.CFGGuider(model)
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        return _packed(guider.sample(noise, latent, sampler, sigmas, disable_pbar=True, seed=SEED))

    knobs = dict(noise_scale="paper_default", custom_noise_scale="", eta=1.0, s_noise=1.0, noise_type="gaussian")
    auto = comfy.samplers.sampler_object(host.ersde.names.AUTO_SAMPLER_NAME)
    if _refused_where_stock_er_sde_fails(host, family, lambda: run(CFG, auto)):
        return
    variants = []
    for cfg in (1.0, 7.0):
        with auto_choices() as choices:
            by_name = run(cfg, auto)
        assert choices.calls[0][0] == cfg, f"{name}: the policy got cfg {choices.calls[0][0]}, the guider applies {cfg}"
        variants.append(choices.variant())
        explicit = host.ersde.sampling.make_sampler(**variants[-1], **knobs)
        assert torch.equal(by_name, run(cfg, explicit)), \
            f"{name}: er_sde_solver_auto at cfg {cfg} is not the variant its policy picked ({variants[-1]})"
    assert variants[0] != variants[1], f"{name}: cfg 1 and 7 picked the same variant {variants[0]}"
