"""Scheme "auto" in real ComfyUI: it reads the cfg of ComfyUI's own guider, so the same sampler at
6 steps runs the predictor-corrector scheme at cfg 1, the corrected one at order 2 at cfg 3.2 and
order 1 at cfg 7 (the paper's noise scale; under 1.75 steps per unit of cfg)."""
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
    at_3 = _sample(host, model, conds, 3.2, scheme="auto")
    assert torch.equal(at_3, _sample(host, model, conds, 3.2, scheme="corrected", order=2)), \
        "auto at cfg 3.2 (paper noise scale, 6 steps) is not the corrected scheme at order 2"
    assert not torch.equal(at_3, _sample(host, model, conds, 3.2, scheme="corrected", order=3))
    at_7 = _sample(host, model, conds, 7.0, scheme="auto")
    assert torch.equal(at_7, _sample(host, model, conds, 7.0, scheme="corrected", order=1)), \
        "auto at cfg 7 (paper noise scale, 6 steps) is not the corrected scheme at order 1"


def test_auto_with_cfg_pp_or_a_dual_cfg_guider_makes_the_unknown_scale_choice(host, tiny_models, conds):
    """Neither hands over one CFG scale (CFG++'s scale is not one; Guider_DualCFG has two): auto then
    runs the choice safest across cfg 1-10, with the paper's noise the corrected scheme at order 2."""
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Guider_DualCFG
    model = tiny_models["eps"]
    assert torch.equal(_sample(host, model, conds, 1.0, scheme="auto", cfg_pp=True),
                       _sample(host, model, conds, 1.0, scheme="corrected", order=2, cfg_pp=True))
    guider = Guider_DualCFG(model)
    guider.set_cfg(1.0, 1.0)
    wrapped = comfy.samplers.KSamplerX0Inpaint(guider, torch.tensor([1.0, 0.0]))
    assert host.ersde.sampling.host_guidance_scale(wrapped) is None
    plain = comfy.samplers.CFGGuider(model)
    plain.set_cfg(4.5)
    assert host.ersde.sampling.host_guidance_scale(comfy.samplers.KSamplerX0Inpaint(plain, None)) == 4.5
