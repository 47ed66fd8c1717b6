"""The pipelines people run in 2026 beyond SD / SDXL / SD3 / Flux (tests/diffusers/test_pipelines.py), each
built from tiny random-weight components offline (no download: the prompt embeddings are passed in, so no
tokenizer or text encoder is needed) with the scheduler config its released checkpoints ship, and the
scheduler swapped in as a user does it:

    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config)

For each: a finite output, the same seed gives the same output, another seed another, and the scheduler
takes the pipeline's step count. docs/diffusers.md's support table lists the result of each case here.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import diffusers  # noqa: E402
from diffusers import (AutoencoderKL, DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler,  # noqa: E402
                       UniPCMultistepScheduler)

from ersde_diffusers import ERSDESolverScheduler  # noqa: E402

STEPS = 3


def _randn(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _mask(length: int, dtype: torch.dtype = torch.long) -> torch.Tensor:
    return torch.ones(1, length, dtype=dtype)


def _image_vae(latent_channels: int, **config) -> AutoencoderKL:
    """A one-level (no downsampling) KL VAE: the smallest image decoder."""
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=latent_channels, block_out_channels=(4,),
                         layers_per_block=1, norm_num_groups=1, use_quant_conv=False, use_post_quant_conv=False,
                         **config)


def _flux_like(family: str) -> tuple[dict, dict, dict]:
    """Flux.1-schnell / Flux.1-dev / Chroma: the transformer, its shipped FlowMatch config, the call."""
    if family == "chroma":
        transformer = diffusers.ChromaTransformer2DModel(
            patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=8,
            num_attention_heads=2, joint_attention_dim=16, axes_dims_rope=(2, 2, 4), approximator_num_channels=8,
            approximator_hidden_dim=16, approximator_layers=1)
        call = dict(prompt_embeds=_randn(1, 5, 16), prompt_attention_mask=_mask(5, torch.float32), guidance_scale=1.0)
    else:
        transformer = diffusers.FluxTransformer2DModel(
            patch_size=1, in_channels=4, num_layers=1, num_single_layers=1, attention_head_dim=8,
            num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=8,
            guidance_embeds=family == "flux-dev", axes_dims_rope=(2, 2, 4))
        call = dict(prompt_embeds=_randn(1, 5, 16), pooled_prompt_embeds=_randn(1, 8, seed=2),
                    guidance_scale=0.0 if family == "flux-schnell" else 3.5)
    if family == "flux-schnell":  # black-forest-labs/FLUX.1-schnell: no dynamic shifting, shift 1
        scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False, base_shift=0.5,
                                                    max_shift=1.15)
    else:  # FLUX.1-dev and Chroma: resolution-dependent shift
        scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                                                    max_shift=1.15)
    parts = dict(transformer=transformer, vae=_image_vae(1, shift_factor=0.1, scaling_factor=0.5), scheduler=scheduler, text_encoder=None, tokenizer=None)
    if family != "chroma":
        parts.update(text_encoder_2=None, tokenizer_2=None)
    else:
        parts.update(image_encoder=None, feature_extractor=None)
    return parts, call, dict(height=16, width=16)


def build(name: str) -> tuple[str, dict, dict]:
    """(pipeline class name, components, call arguments) of a case, random weights from seed 0."""
    torch.manual_seed(0)
    if name == "sd3.5":
        # SD3.5 Medium's transformer: MMDiT-X (dual attention in the first layer) with RMS qk-norm
        transformer = diffusers.SD3Transformer2DModel(
            sample_size=8, patch_size=2, in_channels=4, out_channels=4, num_layers=2, attention_head_dim=8,
            num_attention_heads=2, joint_attention_dim=16, caption_projection_dim=16, pooled_projection_dim=8,
            pos_embed_max_size=16, qk_norm="rms_norm", dual_attention_layers=(0,))
        parts = dict(transformer=transformer, vae=_image_vae(4, shift_factor=0.06, scaling_factor=1.5),
                     scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                     **{f"{k}{n}": None for k in ("text_encoder", "tokenizer") for n in ("", "_2", "_3")})
        call = dict(prompt_embeds=_randn(1, 5, 16), pooled_prompt_embeds=_randn(1, 8, seed=2),
                    negative_prompt_embeds=_randn(1, 5, 16, seed=3), negative_pooled_prompt_embeds=_randn(1, 8, seed=4),
                    guidance_scale=4.5, height=16, width=16)
        return "StableDiffusion3Pipeline", parts, call
    if name in ("flux-schnell", "flux-dev", "chroma"):
        parts, call, size = _flux_like(name)
        return ("ChromaPipeline" if name == "chroma" else "FluxPipeline"), parts, {**call, **size}
    if name == "qwen-image":
        transformer = diffusers.QwenImageTransformer2DModel(
            patch_size=2, in_channels=16, out_channels=4, num_layers=1, attention_head_dim=16, num_attention_heads=2,
            joint_attention_dim=16, guidance_embeds=False, axes_dims_rope=(8, 4, 4))
        vae = diffusers.AutoencoderKLQwenImage(base_dim=8, z_dim=4, dim_mult=[1, 2], num_res_blocks=1,
                                               temperal_downsample=[False], latents_mean=[0.0] * 4,
                                               latents_std=[1.0] * 4)
        # Qwen/Qwen-Image's scheduler config: dynamic shifting to a terminal sigma of 0.02
        scheduler = FlowMatchEulerDiscreteScheduler(
            base_image_seq_len=256, base_shift=math.log(3), max_image_seq_len=8192, max_shift=math.log(3), shift=1.0,
            shift_terminal=0.02, use_dynamic_shifting=True, time_shift_type="exponential")
        parts = dict(transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=None, tokenizer=None)
        call = dict(prompt_embeds=_randn(1, 5, 16), prompt_embeds_mask=_mask(5), true_cfg_scale=1.0, height=32,
                    width=32)
        return "QwenImagePipeline", parts, call
    if name == "sana":
        transformer = diffusers.SanaTransformer2DModel(
            patch_size=1, in_channels=4, out_channels=4, num_layers=1, num_attention_heads=2, attention_head_dim=4,
            num_cross_attention_heads=2, cross_attention_head_dim=4, cross_attention_dim=8, caption_channels=8,
            sample_size=8)
        vae = diffusers.AutoencoderDC(
            in_channels=3, latent_channels=4, attention_head_dim=2, encoder_block_types=("ResBlock", "EfficientViTBlock"),
            decoder_block_types=("ResBlock", "EfficientViTBlock"), encoder_block_out_channels=(8, 8),
            decoder_block_out_channels=(8, 8), encoder_qkv_multiscales=((), (5,)), decoder_qkv_multiscales=((), (5,)),
            encoder_layers_per_block=(1, 1), decoder_layers_per_block=[1, 1], downsample_block_type="conv",
            upsample_block_type="interpolate", decoder_norm_types="rms_norm", decoder_act_fns="silu",
            scaling_factor=0.41407)
        # Efficient-Large-Model/Sana_1600M_1024px_diffusers ships DPM-Solver++ on flow sigmas
        scheduler = DPMSolverMultistepScheduler(use_flow_sigmas=True, flow_shift=3.0, prediction_type="flow_prediction",
                                                solver_order=2)
        parts = dict(transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=None, tokenizer=None)
        call = dict(prompt_embeds=_randn(1, 5, 8), prompt_attention_mask=_mask(5), guidance_scale=1.0, height=32,
                    width=32, complex_human_instruction=None, use_resolution_binning=False)
        return "SanaPipeline", parts, call
    if name == "lumina2":
        transformer = diffusers.Lumina2Transformer2DModel(
            sample_size=4, patch_size=2, in_channels=4, hidden_size=8, num_layers=1, num_refiner_layers=1,
            num_attention_heads=1, num_kv_heads=1, multiple_of=16, ffn_dim_multiplier=None, norm_eps=1e-5,
            scaling_factor=1.0, axes_dim_rope=[4, 2, 2], cap_feat_dim=8)
        parts = dict(transformer=transformer, vae=_image_vae(4, shift_factor=0.0609, scaling_factor=1.5035),
                     scheduler=FlowMatchEulerDiscreteScheduler(shift=6.0), text_encoder=None, tokenizer=None)
        call = dict(prompt_embeds=_randn(1, 5, 8), prompt_attention_mask=_mask(5), guidance_scale=1.0, height=16,
                    width=16, system_prompt="")
        return "Lumina2Pipeline", parts, call
    if name == "cogview4":
        transformer = diffusers.CogView4Transformer2DModel(
            patch_size=2, in_channels=4, num_layers=1, attention_head_dim=4, num_attention_heads=2, out_channels=4,
            text_embed_dim=16, time_embed_dim=8, condition_dim=4)
        # THUDM/CogView4-6B: linear dynamic shifting; the pipeline passes sigmas, timesteps and mu
        scheduler = FlowMatchEulerDiscreteScheduler(base_shift=0.25, max_shift=0.75, base_image_seq_len=256,
                                                    use_dynamic_shifting=True, time_shift_type="linear")
        parts = dict(transformer=transformer, vae=_image_vae(4), scheduler=scheduler, text_encoder=None, tokenizer=None)
        call = dict(prompt_embeds=_randn(1, 16, 16), guidance_scale=1.0, height=16, width=16)
        return "CogView4Pipeline", parts, call
    if name == "wan":
        vae = diffusers.AutoencoderKLWan(base_dim=3, z_dim=4, dim_mult=[1, 1], num_res_blocks=1,
                                         temperal_downsample=[False], latents_mean=[0.0] * 4, latents_std=[1.0] * 4)
        transformer = diffusers.WanTransformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=4,
            text_dim=16, freq_dim=16, ffn_dim=16, num_layers=1, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
            rope_max_seq_len=32)
        # Wan-AI/Wan2.1-T2V-1.3B-Diffusers (and Wan 2.2): UniPC on flow sigmas
        scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
        parts = dict(transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=None, tokenizer=None,
                     transformer_2=None)
        call = dict(prompt_embeds=_randn(1, 5, 16), guidance_scale=1.0, height=16, width=16, num_frames=5)
        return "WanPipeline", parts, call
    if name == "ltx-video":
        transformer = diffusers.LTXVideoTransformer3DModel(
            in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
            cross_attention_dim=16, num_layers=1, caption_channels=16)
        vae = diffusers.AutoencoderKLLTXVideo(
            in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
            upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1,
            patch_size_t=1, encoder_causal=True, decoder_causal=False)
        vae.use_framewise_encoding = vae.use_framewise_decoding = False
        # Lightricks/LTX-Video: dynamic shifting to a terminal sigma of 0.1
        scheduler = FlowMatchEulerDiscreteScheduler(base_image_seq_len=1024, base_shift=0.95, max_image_seq_len=4096,
                                                    max_shift=2.05, shift=1.0, shift_terminal=0.1,
                                                    use_dynamic_shifting=True)
        parts = dict(transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=None, tokenizer=None)
        call = dict(prompt_embeds=_randn(1, 5, 16), prompt_attention_mask=_mask(5), guidance_scale=1.0, height=32,
                    width=32, num_frames=9)
        return "LTXPipeline", parts, call
    if name == "hunyuan-video":
        transformer = diffusers.HunyuanVideoTransformer3DModel(
            in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=1,
            num_single_layers=1, num_refiner_layers=1, patch_size=1, patch_size_t=1, guidance_embeds=True,
            text_embed_dim=16, pooled_projection_dim=8, rope_axes_dim=(2, 4, 4))
        vae = diffusers.AutoencoderKLHunyuanVideo(
            in_channels=3, out_channels=3, latent_channels=4, down_block_types=("HunyuanVideoDownBlock3D",) * 4,
            up_block_types=("HunyuanVideoUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
            act_fn="silu", norm_num_groups=4, scaling_factor=0.476986, spatial_compression_ratio=8,
            temporal_compression_ratio=4, mid_block_add_attention=True)
        parts = dict(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
                     text_encoder=None, tokenizer=None, text_encoder_2=None, tokenizer_2=None)
        call = dict(prompt_embeds=_randn(1, 5, 16), pooled_prompt_embeds=_randn(1, 8, seed=2),
                    prompt_attention_mask=_mask(5), guidance_scale=6.0, height=16, width=16, num_frames=5)
        return "HunyuanVideoPipeline", parts, call
    raise KeyError(name)


CASES = ["sd3.5", "flux-schnell", "flux-dev", "qwen-image", "sana", "lumina2", "cogview4", "wan", "ltx-video",
         "hunyuan-video", "chroma"]


# the classes a case needs beyond SD / Flux: an older diffusers without them skips the case, naming it
NEEDS = {"qwen-image": ("QwenImagePipeline", "AutoencoderKLQwenImage"), "sana": ("SanaPipeline", "AutoencoderDC"),
         "lumina2": ("Lumina2Pipeline",), "cogview4": ("CogView4Pipeline",),
         "wan": ("WanPipeline", "AutoencoderKLWan"), "ltx-video": ("LTXPipeline", "AutoencoderKLLTXVideo"),
         "hunyuan-video": ("HunyuanVideoPipeline", "AutoencoderKLHunyuanVideo"), "chroma": ("ChromaPipeline",)}


@functools.lru_cache(maxsize=None)
def _built(name: str):
    missing = [cls for cls in NEEDS.get(name, ()) if not hasattr(diffusers, cls)]
    if missing:
        pytest.skip(f"diffusers {diffusers.__version__} has no {', '.join(missing)}")
    return build(name)


def pipeline(name: str):
    cls_name, parts, call = _built(name)
    pipe = getattr(diffusers, cls_name)(**parts)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config)
    return pipe, call


def generate(pipe, call: dict, seed: int, steps: int = STEPS) -> np.ndarray:
    torch.manual_seed(seed + 1000)  # the global RNG must not matter
    out = pipe(**call, num_inference_steps=steps, output_type="np", generator=torch.Generator().manual_seed(seed))
    return np.asarray(out[0])


def counted_steps(scheduler: ERSDESolverScheduler) -> list[float]:
    """The timestep of every step() call; functools.wraps keeps the signature pipelines inspect."""
    calls: list[float] = []
    step = scheduler.step

    @functools.wraps(step)
    def counted(model_output, timestep, *args, **kwargs):
        calls.append(float(timestep))
        return step(model_output, timestep, *args, **kwargs)

    scheduler.step = counted
    return calls


@pytest.mark.parametrize("name", CASES)
def test_pipeline_runs_reproducibly_with_the_scheduler(name):
    pipe, call = pipeline(name)
    scheduler = pipe.scheduler
    assert isinstance(scheduler, ERSDESolverScheduler) and scheduler.is_flow
    calls = counted_steps(scheduler)
    first = generate(pipe, call, seed=3)
    assert len(calls) == STEPS == scheduler.num_inference_steps == scheduler.step_index
    assert calls == scheduler.timesteps.tolist()
    assert np.isfinite(first).all() and first.std() > 0
    again = generate(pipe, call, seed=3)
    other = generate(pipe, call, seed=4)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-4, "another seed gave the same output"


def recorded_set_timesteps(scheduler: ERSDESolverScheduler) -> list[dict]:
    """The arguments of every set_timesteps call (signature kept: retrieve_timesteps inspects it)."""
    calls: list[dict] = []
    set_timesteps = scheduler.set_timesteps

    @functools.wraps(set_timesteps)
    def recorded(*args, **kwargs):
        calls.append(dict(zip(("num_inference_steps", "device"), args), **kwargs))
        return set_timesteps(*args, **kwargs)

    scheduler.set_timesteps = recorded
    return calls


FLOW_MATCH_CASES = [name for name in CASES if name not in ("sana", "wan")]


@pytest.mark.parametrize("name", FLOW_MATCH_CASES)
def test_the_schedule_is_the_pipeline_s_own_flow_match_schedule(name):
    """What the pipeline hands set_timesteps (sigmas, timesteps, mu) gives the sigmas and timesteps its own
    FlowMatchEulerDiscreteScheduler makes of them: the model sees the timesteps it would see without the swap."""
    pipe, call = pipeline(name)
    calls = recorded_set_timesteps(pipe.scheduler)
    generate(pipe, call, seed=3, steps=4)
    assert len(calls) == 1
    own = FlowMatchEulerDiscreteScheduler.from_config(_built(name)[1]["scheduler"].config)
    own.set_timesteps(**calls[0])
    torch.testing.assert_close(pipe.scheduler.sigmas, own.sigmas, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pipe.scheduler.timesteps, own.timesteps, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("name", ["flux-dev", "flux-schnell"])
def test_mu_shifts_the_schedule_only_with_dynamic_shifting(name):
    """Flux passes mu (from the image size) always: with use_dynamic_shifting (FLUX.1-dev) it sets the shift, so
    two sizes give two schedules; without (FLUX.1-schnell) it is ignored (docs: set_timesteps, mu)."""
    pipe, call = pipeline(name)
    calls = recorded_set_timesteps(pipe.scheduler)
    sigmas = []
    for size in (16, 32):
        generate(pipe, {**call, "height": size, "width": size}, seed=3)
        sigmas.append(pipe.scheduler.sigmas.clone())
    assert calls[0]["mu"] != calls[1]["mu"]
    dynamic = pipe.scheduler.config.use_dynamic_shifting
    assert dynamic == (name == "flux-dev")
    assert (sigmas[0] - sigmas[1]).abs().max() > 1e-3 if dynamic else torch.equal(sigmas[0], sigmas[1])
