"""Real diffusers pipelines, offline: StableDiffusion, StableDiffusionXL, StableDiffusion3 and Flux
built from tiny random-weight components (the configs below; no download, no tokenizer: the
prompt embeddings are passed directly), each for txt2img, img2img and inpaint, with the
scheduler swapped in the way a user does it:

    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config)
"""
from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import diffusers  # noqa: E402
from diffusers import (AutoencoderKL, EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler,  # noqa: E402
                       FluxTransformer2DModel, SD3Transformer2DModel, UNet2DConditionModel)

from ersde_diffusers import ERSDESolverScheduler  # noqa: E402

SIZE = 16            # image side in pixels; the VAEs downsample by 2, so latents are 8 x 8
STEPS = 5
STRENGTH = 0.6       # img2img / inpaint: int(5 * 0.6) = 3 steps run
SD_BETAS = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)

TASKS = {
    "sd": {"txt2img": "StableDiffusionPipeline", "img2img": "StableDiffusionImg2ImgPipeline",
           "inpaint": "StableDiffusionInpaintPipeline"},
    "sdxl": {"txt2img": "StableDiffusionXLPipeline", "img2img": "StableDiffusionXLImg2ImgPipeline",
             "inpaint": "StableDiffusionXLInpaintPipeline"},
    "sd3": {"txt2img": "StableDiffusion3Pipeline", "img2img": "StableDiffusion3Img2ImgPipeline",
            "inpaint": "StableDiffusion3InpaintPipeline"},
    "flux": {"txt2img": "FluxPipeline", "img2img": "FluxImg2ImgPipeline", "inpaint": "FluxInpaintPipeline"},
}
CASES = [(family, task) for family, tasks in TASKS.items() for task in tasks]


def _vae(latent_channels: int, **config) -> AutoencoderKL:
    return AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=latent_channels,
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         norm_num_groups=4, layers_per_block=1, **config)


def _unet(**config) -> UNet2DConditionModel:
    return UNet2DConditionModel(block_out_channels=(8, 16), layers_per_block=1, sample_size=SIZE // 2, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                norm_num_groups=4, attention_head_dim=4, **config)


def _embeddings(*shapes: tuple[int, ...]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(shape, generator=g) for shape in shapes]


@functools.lru_cache(maxsize=None)
def components(family: str) -> tuple[dict, dict]:
    """(pipeline components, the prompt-embedding arguments) of a family, random weights, seed 0."""
    torch.manual_seed(0)
    if family == "sd":
        emb, neg = _embeddings((1, 5, 16), (1, 5, 16))
        parts = dict(unet=_unet(), vae=_vae(4), text_encoder=None, tokenizer=None, safety_checker=None,
                     feature_extractor=None, scheduler=EulerDiscreteScheduler(**SD_BETAS, steps_offset=1))
        return parts, dict(prompt_embeds=emb, negative_prompt_embeds=neg)
    if family == "sdxl":
        # added conditioning: pooled text (8) + 6 size / crop numbers embedded in 4 each
        unet = _unet(addition_embed_type="text_time", addition_time_embed_dim=4,
                     projection_class_embeddings_input_dim=8 + 6 * 4, use_linear_projection=True)
        emb, neg, pooled, neg_pooled = _embeddings((1, 5, 16), (1, 5, 16), (1, 8), (1, 8))
        parts = dict(unet=unet, vae=_vae(4), text_encoder=None, text_encoder_2=None, tokenizer=None, tokenizer_2=None,
                     scheduler=EulerDiscreteScheduler(**SD_BETAS, steps_offset=1, timestep_spacing="leading"))
        return parts, dict(prompt_embeds=emb, negative_prompt_embeds=neg, pooled_prompt_embeds=pooled,
                           negative_pooled_prompt_embeds=neg_pooled)
    if family == "sd3":
        transformer = SD3Transformer2DModel(sample_size=SIZE // 2, patch_size=2, in_channels=16, out_channels=16,
                                            num_layers=1, attention_head_dim=8, num_attention_heads=2,
                                            joint_attention_dim=16, caption_projection_dim=16,
                                            pooled_projection_dim=8, pos_embed_max_size=16)
        emb, neg, pooled, neg_pooled = _embeddings((1, 5, 16), (1, 5, 16), (1, 8), (1, 8))
        parts = dict(transformer=transformer, vae=_vae(16, shift_factor=0.1, scaling_factor=0.5),
                     scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                     **{f"{k}{n}": None for k in ("text_encoder", "tokenizer") for n in ("", "_2", "_3")})
        return parts, dict(prompt_embeds=emb, negative_prompt_embeds=neg, pooled_prompt_embeds=pooled,
                           negative_pooled_prompt_embeds=neg_pooled)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                         attention_head_dim=8, num_attention_heads=2, joint_attention_dim=16,
                                         pooled_projection_dim=8, guidance_embeds=False, axes_dims_rope=(2, 2, 4))
    emb, pooled = _embeddings((1, 5, 16), (1, 8))
    parts = dict(transformer=transformer, vae=_vae(4, shift_factor=0.1, scaling_factor=0.5),
                 scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                                                           max_shift=1.15),
                 text_encoder=None, tokenizer=None, text_encoder_2=None, tokenizer_2=None)
    return parts, dict(prompt_embeds=emb, pooled_prompt_embeds=pooled)


def pipeline(family: str, task: str):
    parts, _ = components(family)
    cls = getattr(diffusers, TASKS[family][task])
    extra = {}
    if family == "sd":
        extra = dict(requires_safety_checker=False)
    elif family == "sdxl":
        extra = dict(add_watermarker=False)
    pipe = cls(**parts, **extra)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config)
    return pipe


def count_steps(scheduler: ERSDESolverScheduler) -> list[int]:
    """Record every step() call; functools.wraps keeps the signature pipelines inspect for `generator`."""
    calls: list[int] = []
    step = scheduler.step

    @functools.wraps(step)
    def counted(*args, **kwargs):
        out = step(*args, **kwargs)
        calls.append(scheduler.step_index - 1)  # the index of the step just made
        return out

    scheduler.step = counted
    return calls


def image_inputs() -> dict:
    g = torch.Generator().manual_seed(2)
    image = torch.rand(1, 3, SIZE, SIZE, generator=g)
    mask = torch.zeros(1, 1, SIZE, SIZE)
    mask[..., SIZE // 2:] = 1.0
    return dict(image=image, mask_image=mask)


def generate(pipe, family: str, task: str, seed: int, **kwargs) -> np.ndarray:
    _, embeddings = components(family)
    args = dict(embeddings, height=SIZE, width=SIZE, num_inference_steps=STEPS, output_type="np",
                generator=torch.Generator().manual_seed(seed), **kwargs)
    if task != "txt2img":
        inputs = image_inputs()
        args.update(image=inputs["image"], strength=STRENGTH)
        if task == "inpaint":
            args["mask_image"] = inputs["mask_image"]
    torch.manual_seed(seed + 1000)  # the global RNG must not matter: reseeded differently before each run
    return pipe(**args).images


@pytest.mark.parametrize("family,task", CASES)
def test_pipeline_runs_reproducibly_with_the_scheduler(family, task):
    pipe = pipeline(family, task)
    scheduler = pipe.scheduler
    assert isinstance(scheduler, ERSDESolverScheduler)
    assert scheduler.is_flow == (family in ("sd3", "flux"))
    calls = count_steps(scheduler)
    first = generate(pipe, family, task, seed=3)
    expected = STEPS if task == "txt2img" else int(STEPS * STRENGTH)
    assert len(calls) == expected, f"{len(calls)} scheduler steps, expected {expected}"
    assert calls == list(range(STEPS - expected, STEPS))  # img2img / inpaint start at begin_index
    assert scheduler.step_index == len(scheduler.timesteps) == STEPS
    assert first.shape == (1, SIZE, SIZE, 3) and np.isfinite(first).all()
    torch.manual_seed(12345)
    again = generate(pipe, family, task, seed=3)
    other = generate(pipe, family, task, seed=4)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3, "another seed gave the same image"


def test_a_saved_pipeline_loads_with_the_scheduler(tmp_path):
    pipe = pipeline("sd", "txt2img")
    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config, solver_order=2, noise_scale="ode")
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / "model_index.json").read_text())
    # a stored name (see ersde_diffusers/__init__.py): the class stays in ersde_diffusers/scheduler.py
    assert index["scheduler"] == ["ersde_diffusers.scheduler", "ERSDESolverScheduler"]
    loaded = diffusers.StableDiffusionPipeline.from_pretrained(
        tmp_path, text_encoder=None, tokenizer=None, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    assert isinstance(loaded.scheduler, ERSDESolverScheduler)
    assert (loaded.scheduler.config.solver_order, loaded.scheduler.config.noise_scale) == (2, "ode")


def test_flux_schedule_is_the_one_flux_passes():
    """FluxPipeline hands its sigmas linspace(1, 1/N, N) and mu to the scheduler: the same schedule as with
    its own FlowMatchEulerDiscreteScheduler, sigma 1 first."""
    pipe = pipeline("flux", "txt2img")
    reference = FlowMatchEulerDiscreteScheduler.from_config(components("flux")[0]["scheduler"].config)
    generate(pipe, "flux", "txt2img", seed=3)
    sigmas = np.linspace(1.0, 1 / STEPS, STEPS)
    mu = diffusers.pipelines.flux.pipeline_flux.calculate_shift((SIZE // 4) ** 2)
    reference.set_timesteps(sigmas=sigmas, mu=mu)
    torch.testing.assert_close(pipe.scheduler.sigmas, reference.sigmas)
    torch.testing.assert_close(pipe.scheduler.timesteps, reference.timesteps)
    assert pipe.scheduler.sigmas[0] == 1.0


def test_sd3_schedule_is_flow_match_euler_s():
    pipe = pipeline("sd3", "txt2img")
    reference = FlowMatchEulerDiscreteScheduler.from_config(components("sd3")[0]["scheduler"].config)
    pipe.scheduler.set_timesteps(STEPS)
    reference.set_timesteps(STEPS)
    torch.testing.assert_close(pipe.scheduler.sigmas, reference.sigmas)
    torch.testing.assert_close(pipe.scheduler.timesteps, reference.timesteps)


def test_a_seed_gives_the_same_image_at_every_batch_size():
    """Portable noise: item 1 of a batch seeded [3, 4] is the image of a batch of one seeded 4 (the
    pipeline's per-item generators draw the starting latents, the counter stream the step noise)."""
    pipe = pipeline("sd", "txt2img")
    _, embeddings = components("sd")
    common = dict(embeddings, height=SIZE, width=SIZE, num_inference_steps=STEPS, output_type="np")
    pair = pipe(**common, num_images_per_prompt=2,
                generator=[torch.Generator().manual_seed(3), torch.Generator().manual_seed(4)]).images
    single = pipe(**common, generator=[torch.Generator().manual_seed(4)]).images
    np.testing.assert_allclose(pair[1], single[0], atol=1e-5)
    assert np.abs(pair[0] - single[0]).max() > 1e-3


@pytest.mark.parametrize("source", ["generator", "brownian"])
@pytest.mark.parametrize("family", ["sd", "flux"])
def test_other_noise_sources_are_reproducible(family, source):
    """noise_source="generator": torch.randn from the pipeline's generator (SD) or, where the pipeline passes
    none to step() (Flux), from CPU generators seeded by the starting latent; "brownian": a Brownian path
    on the counter-based stream, seeded as the default is."""
    pipe = pipeline(family, "txt2img")
    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config, noise_source=source)
    first, again = (generate(pipe, family, "txt2img", seed=3) for _ in range(2))
    other = generate(pipe, family, "txt2img", seed=4)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3
    portable = pipeline(family, "txt2img")
    assert np.abs(generate(portable, family, "txt2img", seed=3) - first).max() > 1e-3


# --- the keywords pipelines hand the scheduler: eta, generator (mu: test_pipelines_2026.py) ----------

def _sd_image(pipe, seed: int, latents: torch.Tensor | None = None, **kwargs) -> np.ndarray:
    _, embeddings = components("sd")
    return pipe(**embeddings, height=SIZE, width=SIZE, num_inference_steps=STEPS, output_type="np",
                generator=torch.Generator().manual_seed(seed), latents=latents, **kwargs).images


def test_a_pipeline_s_eta_is_not_the_scheduler_s_and_the_config_eta_0_is_the_ode():
    """SD pipelines pass eta only to a step() that takes one; ours takes none (docs: Config keys, eta)."""
    pipe = pipeline("sd", "txt2img")
    default = _sd_image(pipe, 3)
    np.testing.assert_array_equal(_sd_image(pipe, 3, eta=0.0), default)
    np.testing.assert_array_equal(_sd_image(pipe, 3, eta=1.0), default)
    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config, eta=0.0)
    ode_by_eta = _sd_image(pipe, 3)
    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config, eta=1.0, noise_scale="ode")
    np.testing.assert_allclose(_sd_image(pipe, 3), ode_by_eta, atol=1e-5)
    assert np.abs(ode_by_eta - default).max() > 1e-3


def test_the_pipeline_s_generator_seeds_the_step_noise_unless_noise_seed_is_set():
    """SD passes its generator to step(): with the starting latent fixed, the generator's seed alone changes
    the image (the per-step noise); a config noise_seed takes its place (docs: Noise, the seed order)."""
    pipe = pipeline("sd", "txt2img")
    received = []
    step = pipe.scheduler.step

    @functools.wraps(step)
    def spy(*args, generator=None, **kwargs):
        received.append(generator)
        return step(*args, generator=generator, **kwargs)

    pipe.scheduler.step = spy
    latents = torch.randn(1, 4, SIZE // 2, SIZE // 2, generator=torch.Generator().manual_seed(9))
    a, again, b = (_sd_image(pipe, seed, latents) for seed in (3, 3, 4))
    assert all(isinstance(g, torch.Generator) for g in received)
    np.testing.assert_array_equal(a, again)
    assert np.abs(a - b).max() > 1e-3
    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config, noise_seed=7)
    np.testing.assert_array_equal(_sd_image(pipe, 3, latents), _sd_image(pipe, 4, latents))


def test_without_a_generator_in_step_the_starting_latent_seeds_the_noise():
    """Flux passes no generator to step(): the seed is a hash of the starting latent, so the same latent gives
    the same image whatever the pipeline's generator, and another latent another image."""
    pipe = pipeline("flux", "txt2img")
    _, embeddings = components("flux")
    latents = torch.randn(1, (SIZE // 4) ** 2, 16, generator=torch.Generator().manual_seed(9))

    def image(seed: int, start: torch.Tensor) -> np.ndarray:
        return pipe(**embeddings, height=SIZE, width=SIZE, num_inference_steps=STEPS, output_type="np",
                    generator=torch.Generator().manual_seed(seed), latents=start).images

    np.testing.assert_array_equal(image(3, latents), image(4, latents))
    assert np.abs(image(3, latents) - image(3, latents * 0.9)).max() > 1e-4
