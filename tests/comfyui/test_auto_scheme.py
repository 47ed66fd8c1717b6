"""Scheme "auto" in real ComfyUI: it reads the cfg of ComfyUI's own guider, so the same sampler
runs the predictor-corrector scheme at cfg 1, the corrected one at order 2 at cfg 4 and the
predictor-corrector one at order 1 at cfg 7 (the paper's noise scale)."""
from __future__ import annotations

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


def test_auto_follows_the_cfg_of_comfyuis_guider(host, tiny_models, conds):
    model = tiny_models["eps"]
    at_1 = _sample(host, model, conds, 1.0, scheme="auto")
    assert torch.equal(at_1, _sample(host, model, conds, 1.0, scheme="predictor_corrector")), \
        "auto at cfg 1 is not the predictor-corrector scheme"
    at_4 = _sample(host, model, conds, 4.0, scheme="auto")
    assert torch.equal(at_4, _sample(host, model, conds, 4.0, scheme="corrected", order=2)), \
        "auto at cfg 4 (paper noise scale) is not the corrected scheme at order 2"
    assert not torch.equal(at_4, _sample(host, model, conds, 4.0, scheme="corrected", order=3))
    at_7 = _sample(host, model, conds, 7.0, scheme="auto")
    assert torch.equal(at_7, _sample(host, model, conds, 7.0, scheme="predictor_corrector", order=1)), \
        "auto at cfg 7 (paper noise scale) is not the predictor-corrector scheme at order 1"


def test_auto_with_cfg_pp_or_a_dual_cfg_guider_is_the_corrected_scheme(host, tiny_models, conds):
    """Neither hands over one CFG scale (CFG++'s scale is not one; Guider_DualCFG has two)."""
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Guider_DualCFG
    model = tiny_models["eps"]
    assert torch.equal(_sample(host, model, conds, 1.0, scheme="auto", cfg_pp=True),
                       _sample(host, model, conds, 1.0, scheme="corrected", cfg_pp=True))
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
