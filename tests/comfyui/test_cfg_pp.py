"""CFG++ in ComfyUI: er_sde_solver_N_cfg_pp in the stock dropdowns, the unconditional
prediction taken from ComfyUI's CFG, order 1 equal to ComfyUI's own euler_cfg_pp and
euler_ancestral_cfg_pp, and the nodes' optional cfg_pp input."""
from __future__ import annotations

import pytest
import torch

CFG_PP_NAMES = ["er_sde_solver_1_cfg_pp", "er_sde_solver_2_cfg_pp", "er_sde_solver_3_cfg_pp"]
STEPS = 8


def _run(model, conds, sampler, cfg=4.0, seed=7, flow=False):
    import comfy.sample
    import comfy.samplers
    latent = torch.zeros(2, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, seed)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", STEPS)
    if flow:
        sigmas = sigmas.clone()
        sigmas[0] = 0.99  # ComfyUI's cfg_pp samplers have no rule for a flow model's sigma = 1 (alpha = 0)
    return comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, conds[0], conds[1], latent,
                                      disable_pbar=True, seed=seed)


def test_cfg_pp_names_in_the_stock_dropdowns_resolve_to_our_functions(host):
    import comfy.samplers
    for node_id in ("KSampler", "KSamplerAdvanced", "KSamplerSelect"):
        options = host.combo_options(host.nodes.NODE_CLASS_MAPPINGS[node_id], "sampler_name")
        assert all(n in options for n in CFG_PP_NAMES), f"{node_id} lacks the CFG++ entries"
    for name in CFG_PP_NAMES:
        function = comfy.samplers.sampler_object(name).sampler_function
        assert function.__name__ == f"sample_{name}" and function.__module__.endswith("ersde_nodes.sampling")


@pytest.mark.parametrize("kind", ["eps", "v", "flow"])
@pytest.mark.parametrize("noise_scale,builtin", [("ode", "euler_cfg_pp"), ("reverse_sde", "euler_ancestral_cfg_pp")])
def test_order_1_cfg_pp_equals_comfyuis_euler_cfg_pp(host, tiny_models, kind, noise_scale, builtin):
    """phi = x is CFG++'s DDIM (euler_cfg_pp); phi = x^2 its ancestral step (euler_ancestral_cfg_pp,
    eta 1), with ComfyUI's own noise. Only float rounding may differ."""
    import comfy.samplers
    from comfy.k_diffusion import sampling
    model = tiny_models[kind]
    g = torch.Generator().manual_seed(11)
    # conditionings far apart, so that the tiny random UNet's guided and unconditional predictions differ
    conds = ([[torch.randn(1, 4, 16, generator=g) * 30, {}]], [[torch.randn(1, 4, 16, generator=g) * 30, {}]])
    theirs = _run(model, conds, comfy.samplers.ksampler(builtin), flow=kind == "flow")
    noise = sampling.default_noise_sampler(torch.zeros(2, 4, 8, 8), seed=7)
    options = dict(order=1, noise_scale=noise_scale, cfg_pp=True, noise_sampler=noise,
                   s_noise=0.0 if noise_scale == "ode" else 1.0)
    ours = _run(model, conds, comfy.samplers.KSAMPLER(host.ersde.sampling.sample_er_sde_comfy, extra_options=options),
                flow=kind == "flow")
    plain = _run(model, conds, comfy.samplers.KSAMPLER(host.ersde.sampling.sample_er_sde_comfy,
                                                        extra_options=options | {"cfg_pp": False}), flow=kind == "flow")
    scale = theirs.abs().max()
    d_ours, d_plain = float((ours - theirs).abs().max() / scale), float((plain - theirs).abs().max() / scale)
    print(f"{kind} {builtin}: CFG++ {d_ours:.2e}, plain CFG {d_plain:.2e}")
    assert d_ours < 1e-5, f"{builtin} and our order-1 CFG++ disagree by {d_ours:.2e}"
    assert d_plain > 30 * max(d_ours, 1e-7), f"plain CFG is {d_plain:.2e} from {builtin}: the test cannot tell"


@pytest.mark.parametrize("order", [1, 2, 3])
def test_cfg_pp_samplers_run_on_every_model_type(host, tiny_models, conds, order):
    import comfy.samplers
    for kind, model in tiny_models.items():
        out = _run(model, conds, comfy.samplers.ksampler(CFG_PP_NAMES[order - 1]), cfg=1.0)
        plain = _run(model, conds, comfy.samplers.ksampler(f"er_sde_solver_{order}"), cfg=1.0)
        assert torch.isfinite(out).all(), f"{kind}: CFG++ order {order} produced non-finite values"
        # at cfg 1 plain CFG is the conditional model alone; CFG++ still re-noises along the unconditional one
        assert not torch.allclose(out, plain), f"{kind}: CFG++ order {order} did not use the unconditional prediction"


def test_cfg_pp_leaves_the_callers_model_options_alone(host, tiny_models):
    sampling = host.ersde.sampling
    calls = []

    class Wrapped:
        inner_model = None

        def __call__(self, x, sigma, model_options=None, **_):
            for fn in model_options.get("sampler_post_cfg_function", []):
                fn({"denoised": x * 0, "uncond_denoised": x * 0 + 1})
            calls.append(model_options)
            return x * 0

    options = {"transformer_options": {}}
    x = torch.randn(1, 4, 8, 8)
    sampling.sample_er_sde_comfy(Wrapped(), x, torch.tensor([2.0, 1.0, 0.0]), {"model_options": options},
                                 disable=True, cfg_pp=True, order=2)
    assert options == {"transformer_options": {}}, "the caller's model_options were changed"
    assert calls and calls[0]["disable_cfg1_optimization"] is True


def test_cfg_pp_without_the_unconditional_prediction_says_so(host):
    sampling = host.ersde.sampling

    class NoCfg:
        inner_model = None

        def __call__(self, x, sigma, **_):
            return x * 0  # never runs the post-CFG functions

    with pytest.raises(sampling.ERSDEInputError, match="unconditional prediction"):
        sampling.sample_er_sde_comfy(NoCfg(), torch.randn(1, 4, 8, 8), torch.tensor([2.0, 1.0, 0.0]), {},
                                     disable=True, cfg_pp=True)


def test_cfg_pp_input_on_both_nodes_through_the_executor(host, tiny_models, conds):
    """cfg_pp = True on KSampler (ER-SDE) equals the stock KSampler with er_sde_solver_3_cfg_pp;
    a graph without the input (as saved by 0.1.0) equals cfg_pp = False."""
    import comfy.samplers
    ksampler_node = host.nodes.NODE_CLASS_MAPPINGS["KSamplerERSDE"]
    sampler_node = host.nodes.NODE_CLASS_MAPPINGS["ERSDESolverSampler"]
    knobs = {"order": 3, "noise_scale": "paper_default", "custom_noise_scale": "x", "eta": 1.0, "s_noise": 1.0,
             "noise_type": "gaussian", "scheme": "corrected"}
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    common = dict(model=tiny_models["eps"], seed=3, steps=4, cfg=1.5, scheduler="karras", positive=conds[0],
                  negative=conds[1], latent_image=latent, denoise=1.0)

    def node_out(**extra):
        result = ksampler_node.execute(**common, **knobs, **extra)
        result = getattr(result, "result", result)
        return result[0]["samples"]

    old = node_out()
    assert torch.equal(old, node_out(cfg_pp=False)), "a graph without cfg_pp must mean cfg_pp = False"
    with_pp = node_out(cfg_pp=True)
    assert not torch.allclose(with_pp, old)
    stock = host.nodes.common_ksampler(tiny_models["eps"], 3, 4, 1.5, "er_sde_solver_3_cfg_pp", "karras",
                                       conds[0], conds[1], latent)[0]["samples"]
    assert torch.equal(with_pp, stock), "KSampler (ER-SDE) with cfg_pp and KSampler + er_sde_solver_3_cfg_pp differ"
    sampler = sampler_node.execute(**knobs, cfg_pp=True)
    sampler = getattr(sampler, "result", sampler)[0]
    assert isinstance(sampler, comfy.samplers.KSAMPLER) and sampler.extra_options["cfg_pp"] is True
