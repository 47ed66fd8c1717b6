"""Scheme "auto" and er_sde_solver_auto in real ComfyUI: they read the cfg of ComfyUI's own
guider and sample exactly as the order and scheme the policy picks for it (which
tests/solver/test_auto_scheme.py pins per cfg and step count)."""
from __future__ import annotations

import pytest
import torch

STEPS = 6


def _sample(host, model, conds, cfg, **inputs):
    import comfy.sample
    import comfy.samplers
    knobs = {"order": 3, "noise_scale": "paper_default", "custom_noise_scale": "x", "eta": 1.0, "s_noise": 1.0,
             "noise_type": "gaussian", "scheme": "corrected"}
    knobs.update(inputs)
    sampler = host.ersde.sampling.make_sampler(**knobs)
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 9)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", STEPS)
    return comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, conds[0], conds[1], latent,
                                      disable_pbar=True, seed=9)


@pytest.mark.parametrize("cfg", [1.0, 3.2, 7.0])
def test_auto_follows_the_cfg_of_comfyuis_guider(host, tiny_models, conds, auto_choices, cfg):
    """The nodes' scheme "auto" hands the cfg of ComfyUI's guider to the policy and samples exactly
    as the variant it picks (which the policy's own tests pin per cfg and step count)."""
    model = tiny_models["eps"]
    with auto_choices() as choices:
        by_auto = _sample(host, model, conds, cfg, scheme="auto")
    assert choices.calls[0][0] == cfg, f"the policy got cfg {choices.calls[0][0]}, the guider applies {cfg}"
    variant = choices.variant()
    assert torch.equal(by_auto, _sample(host, model, conds, cfg, **variant)), f"auto at cfg {cfg} is not {variant}"
    others = [{"order": o, "scheme": s} for o in (1, 2, 3) for s in ("corrected", "predictor_corrector")]
    assert not any(torch.equal(by_auto, _sample(host, model, conds, cfg, **v)) for v in others if v != variant)


def test_auto_with_cfg_pp_or_a_dual_cfg_guider_takes_the_unknown_scale_fallback(host, tiny_models, conds,
                                                                                auto_choices):
    """Neither hands over one CFG scale (CFG++'s scale is not one; Guider_DualCFG has two): the
    policy gets None and takes its fallback for an unknown scale."""
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Guider_DualCFG
    model = tiny_models["eps"]
    with auto_choices() as choices:
        by_auto = _sample(host, model, conds, 1.0, scheme="auto", cfg_pp=True)
    assert choices.calls[0][0] is None, "CFG++ handed the policy a cfg"
    assert torch.equal(by_auto, _sample(host, model, conds, 1.0, cfg_pp=True, **choices.variant()))
    guider = Guider_DualCFG(model)
    guider.set_cfg(1.0, 1.0)
    wrapped = comfy.samplers.KSamplerX0Inpaint(guider, torch.tensor([1.0, 0.0]))
    assert host.ersde.sampling.host_guidance_scale(wrapped) is None
    plain = comfy.samplers.CFGGuider(model)
    plain.set_cfg(4.5)
    assert host.ersde.sampling.host_guidance_scale(comfy.samplers.KSamplerX0Inpaint(plain, None)) == 4.5


def test_er_sde_solver_auto_in_the_stock_ksampler_is_scheme_auto_with_the_ksamplers_cfg(host, tiny_models, conds):
    """The dropdown name through ComfyUI's own KSampler path (comfy.sample.sample by sampler name)
    samples exactly as the nodes' scheme "auto" at order 3 with the same cfg: the cfg the KSampler
    applies reaches the policy, and different cfgs pick different variants."""
    import comfy.sample
    model = tiny_models["eps"]
    latent = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, 9)
    by_name = {}
    for cfg in (1.0, 7.0):
        by_name[cfg] = comfy.sample.sample(model, noise, STEPS, cfg, "er_sde_solver_auto", "karras", conds[0],
                                           conds[1], latent, disable_pbar=True, seed=9)
        assert torch.equal(by_name[cfg], _sample(host, model, conds, cfg, scheme="auto")), \
            f"er_sde_solver_auto at cfg {cfg} is not scheme auto at that cfg"
    assert not torch.equal(by_name[1.0], _sample(host, model, conds, 1.0, scheme="auto", order=1))
    assert not torch.equal(by_name[7.0], _sample(host, model, conds, 7.0, scheme="corrected"))
