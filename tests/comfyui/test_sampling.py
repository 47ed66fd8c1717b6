"""Real sampling runs through comfy.sample with a tiny UNet built from ComfyUI's classes."""
from __future__ import annotations

import pytest
import torch

KINDS = ["eps", "v", "flow"]
STEPS = 6


def run(model, conds, *, seed=7, sampler="er_sde_solver_3", steps=STEPS, latent=None, noise=None,
        denoise=1.0, noise_mask=None, callback=None, scheduler="normal", batch=1):
    import comfy.sample
    positive, negative = conds
    if latent is None:
        latent = torch.zeros(batch, 4, 8, 8)
    if noise is None:
        noise = comfy.sample.prepare_noise(latent, seed)
    return comfy.sample.sample(model, noise, steps, 3.0, sampler, scheduler, positive, negative, latent,
                               denoise=denoise, noise_mask=noise_mask, callback=callback, disable_pbar=True,
                               seed=seed)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("sampler", ["er_sde_solver_1", "er_sde_solver_2", "er_sde_solver_3"])
def test_stock_ksampler_path_gives_finite_latent_and_one_callback_per_step(host, tiny_models, conds, kind, sampler):
    steps_seen = []
    out = run(tiny_models[kind], conds, sampler=sampler, callback=lambda i, x0, x, total: steps_seen.append((i, total)))
    assert out.shape == (1, 4, 8, 8)
    assert torch.isfinite(out).all(), f"{sampler} on a {kind} model gave non-finite values"
    assert steps_seen == [(i, STEPS) for i in range(STEPS)]


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_gives_same_latent_and_other_seed_differs(host, tiny_models, conds, kind):
    a = run(tiny_models[kind], conds, seed=11)
    b = run(tiny_models[kind], conds, seed=11)
    c = run(tiny_models[kind], conds, seed=12)
    assert torch.equal(a, b), "same seed, different latent"
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_item_matches_single_run_with_seed_plus_index(host, tiny_models, conds, kind):
    """The injected noise is per batch item (seed + index): item 1 of a batch equals a
    batch-of-one run from the same starting noise with seed + 1."""
    import comfy.sample
    latent = torch.zeros(2, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 5)
    batch = run(tiny_models[kind], conds, seed=5, latent=latent, noise=noise)
    single0 = run(tiny_models[kind], conds, seed=5, latent=latent[:1], noise=noise[:1])
    single1 = run(tiny_models[kind], conds, seed=6, latent=latent[1:], noise=noise[1:])
    torch.testing.assert_close(batch[:1], single0, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(batch[1:], single1, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_denoise_half_runs_the_tail_of_the_schedule(host, tiny_models, conds, kind):
    g = torch.Generator().manual_seed(3)
    latent = torch.randn(1, 4, 8, 8, generator=g)
    seen = []
    half = run(tiny_models[kind], conds, latent=latent, denoise=0.5, callback=lambda i, *a: seen.append(i))
    full = run(tiny_models[kind], conds, latent=latent, denoise=1.0)
    assert seen == list(range(STEPS))
    assert torch.isfinite(half).all()
    assert (half - latent).abs().mean() < (full - latent).abs().mean(), "denoise 0.5 strayed as far as denoise 1"


@pytest.mark.parametrize("kind", KINDS)
def test_noise_mask_keeps_the_unmasked_region(host, tiny_models, conds, kind):
    g = torch.Generator().manual_seed(4)
    latent = torch.randn(1, 4, 8, 8, generator=g)
    mask = torch.zeros(1, 8, 8)
    mask[:, :, 4:] = 1.0  # resample the right half only
    out = run(tiny_models[kind], conds, latent=latent, noise_mask=mask)
    torch.testing.assert_close(out[..., :4], latent[..., :4], atol=1e-5, rtol=1e-5)
    assert (out[..., 4:] - latent[..., 4:]).abs().mean() > 1e-2
    assert torch.isfinite(out).all()


def test_flow_first_sigma_nudged_like_comfyui(host, tiny_models):
    import comfy.samplers
    from comfy.k_diffusion import sampling
    ms = tiny_models["flow"].get_model_object("model_sampling")
    sigmas = comfy.samplers.calculate_sigmas(ms, "simple", 8)
    assert float(sigmas[0]) == 1.0
    ours, alphas = host.ersde.model_type.schedule_for(ms, sigmas)
    theirs = sampling.offset_first_sigma_for_snr(sigmas, ms)
    assert torch.equal(ours, theirs)
    assert 0.99 < float(ours[0]) < 1.0 and float(sigmas[0]) == 1.0, "the caller's sigmas were changed"
    torch.testing.assert_close(alphas, 1.0 - ours)
    for kind in ("eps", "v"):
        ms = tiny_models[kind].get_model_object("model_sampling")
        s = comfy.samplers.calculate_sigmas(ms, "normal", 8)
        same, none = host.ersde.model_type.schedule_for(ms, s)
        assert same is s and none is None, f"a {kind} model must run VE-scaled (alpha = 1)"


def test_interrupt_stops_sampling_cleanly(host, tiny_models, conds):
    """ComfyUI interrupts from its progress hook (main.py's hijack_progress); the KSampler
    (ER-SDE) path reports progress once a step through latent_preview. The interrupt comes at the
    first report, the one every version sends (ComfyUI 0.33 throttles later ones to one per 0.1 s)."""
    import comfy.model_management
    import comfy.utils
    ersde = host.ersde
    calls = []

    def hook(value, total, preview, **kwargs):
        calls.append(value)
        if value == 1:
            host.nodes.interrupt_processing(True)
        comfy.model_management.throw_exception_if_processing_interrupted()

    positive, negative = conds
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    kwargs = dict(model=tiny_models["eps"], seed=1, steps=STEPS, cfg=3.0, scheduler="normal", positive=positive,
                  negative=negative, latent_image=latent, denoise=1.0, order=3, noise_scale="paper_default",
                  custom_noise_scale="", eta=1.0, s_noise=1.0, noise_type="gaussian", scheme="corrected")
    before = ersde.sampling.ksampler_er_sde(**kwargs)["samples"]
    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            ersde.sampling.ksampler_er_sde(**kwargs)
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    assert calls == [1], "sampling went on after the interrupt"
    assert not comfy.model_management.processing_interrupted()
    after = ersde.sampling.ksampler_er_sde(**kwargs)["samples"]
    assert torch.equal(before, after), "an interrupted run left state behind"
