"""The reference scheme with ComfyUI's noise sampler reproduces ComfyUI's built-in er_sde.

ComfyUI integrates S1 and S2 with a 200-point left Riemann sum in float32; the solver
integrates exactly in float64. The remaining difference is that quadrature error. Bound:
see REL_BOUND; it leaves a margin over the measured difference but stays below half the
gap to the corrected scheme or to order 2, so it fails if the math were wrong."""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

KINDS = ["eps", "v", "flow"]
STEPS = 10
# below the guard: from cfg 3 on noisy plans (the reverse SDE, a model noise scale of 8) it departs,
# by design, from stock er_sde (tests/solver/test_blowup.py); parity is what holds below it
CFG = 2.5
# REL_BOUND: conftest's er_sde_rel_bound (measured differences there).


def sample(model, conds, sampler, seed=21, batch=2):
    import comfy.sample
    latent = torch.zeros(batch, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, seed)
    import comfy.samplers
    # karras: for the flow model it starts at sigma = 1, so both samplers must nudge it
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", STEPS)
    return comfy.sample.sample_custom(model, noise, CFG, sampler, sigmas, conds[0], conds[1], latent,
                                      disable_pbar=True, seed=seed)


def ours(host, seed, shape, **options):
    import comfy.samplers
    from comfy.k_diffusion import sampling
    noise_sampler = sampling.default_noise_sampler(torch.zeros(shape), seed=seed)  # what er_sde makes itself
    return comfy.samplers.KSAMPLER(host.ersde.sampling.sample_er_sde_comfy,
                                   extra_options=dict(noise_sampler=noise_sampler, **options))


def rel(a, b, ref):
    return float((a - b).abs().max() / ref.abs().max())


@pytest.mark.parametrize("kind", KINDS)
def test_reference_scheme_matches_builtin_er_sde_within_quadrature_error(host, tiny_models, conds, er_sde_rel_bound, kind):
    import comfy.samplers
    model = tiny_models[kind]
    builtin = sample(model, conds, comfy.samplers.ksampler("er_sde"))
    reference = sample(model, conds, ours(host, 21, (2, 4, 8, 8), order=3, scheme="reference"))
    corrected = sample(model, conds, ours(host, 21, (2, 4, 8, 8), order=3, scheme="corrected"))
    second = sample(model, conds, ours(host, 21, (2, 4, 8, 8), order=2, scheme="reference"))
    REL_BOUND = er_sde_rel_bound
    d_ref, d_cor, d_2 = rel(reference, builtin, builtin), rel(corrected, builtin, builtin), rel(second, builtin, builtin)
    print(f"{kind}: reference {d_ref:.3e}, corrected {d_cor:.3e}, order 2 {d_2:.3e}")
    assert d_ref < REL_BOUND[kind], f"reference scheme differs from er_sde by {d_ref:.2e} (max abs, relative)"
    # a different method (the corrected derivative, or order 2) lands well outside the bound
    assert d_cor > 2 * REL_BOUND[kind], f"the corrected scheme is only {d_cor:.2e} from er_sde: the test cannot tell"
    assert d_2 > 2 * REL_BOUND[kind], f"order 2 is only {d_2:.2e} from er_sde's order 3: the test cannot tell"


def test_comfyui_noise_type_draws_what_comfyuis_er_sde_draws(host):
    """noise_type comfyui: each step's noise is what er_sde's default_noise_sampler gives for the
    same latent and seed (one generator, the whole batch at once)."""
    from comfy.k_diffusion import sampling
    x = torch.zeros(3, 4, 8, 8)
    ours = host.ersde.sampling.comfyui_noise_sampler(x, 42)
    theirs = sampling.default_noise_sampler(x, seed=42)
    for sigma, sigma_next in ((14.6, 7.0), (7.0, 2.0), (2.0, 0.5)):
        assert torch.equal(ours(sigma, sigma_next), theirs(sigma, sigma_next))
    assert not torch.equal(host.ersde.sampling.comfyui_noise_sampler(x, 43)(1.0, 0.5), theirs(1.0, 0.5))


@pytest.mark.parametrize("kind", KINDS)
def test_noise_type_comfyui_option_reproduces_er_sde_without_a_noise_sampler(host, tiny_models, conds, er_sde_rel_bound,
                                                                              kind):
    """The nodes' option itself (no explicit noise sampler): the same difference as above."""
    import comfy.samplers
    model = tiny_models[kind]
    builtin = sample(model, conds, comfy.samplers.ksampler("er_sde"))
    options = dict(order=3, noise_scale="paper_default", custom_noise_scale="", eta=1.0, s_noise=1.0,
                   noise_type="comfyui", scheme="reference")
    reference = sample(model, conds, host.ersde.sampling.make_sampler(**options))
    gaussian = sample(model, conds, host.ersde.sampling.make_sampler(**(options | {"noise_type": "gaussian"})))
    d, d_gaussian = rel(reference, builtin, builtin), rel(gaussian, builtin, builtin)
    print(f"{kind}: noise_type comfyui {d:.3e}, gaussian {d_gaussian:.3e}")
    assert d < er_sde_rel_bound[kind], f"reference + comfyui noise differs from er_sde by {d:.2e}"
    assert d_gaussian > 10 * er_sde_rel_bound[kind]


# ComfyUI's SamplerER_SDE settings (solver_type, max_stage, eta, s_noise) and our node inputs that
# reproduce them with noise_type comfyui: max_stage = order; "Reverse-time SDE" with eta e is
# noise_scale reverse_sde with eta e (both psi(x) = x^(1+e)); "ODE" is noise_scale ode. "ER-SDE"
# with eta e is paper_default with eta e from ComfyUI 0.33 on (psi = x^(1-e) phi^e, eta 0 the ODE);
# ComfyUI 0.3.64 ignores eta for "ER-SDE" (its tooltip says so), so there it is eta 1.
SAMPLER_ER_SDE_SETTINGS = [
    ("ER-SDE", 2, 1.0, 0.5),
    ("ER-SDE", 3, 0.5, 1.0),
    ("ER-SDE", 3, 2.5, 1.0),
    ("ER-SDE", 3, 0.0, 1.0),
    ("Reverse-time SDE", 3, 0.5, 1.0),
    ("Reverse-time SDE", 1, 2.0, 0.7),  # stage 1: no quadrature (psi = x^3 makes er_sde's Riemann sums coarse)
    ("ODE", 3, 1.0, 1.0),
]
ER_SDE_ETA_SINCE = (0, 33)  # the first snapshot whose SamplerER_SDE applies eta to "ER-SDE"


def our_inputs_for(settings: tuple, host_version: tuple) -> dict:
    solver_type, max_stage, eta, s_noise = settings
    if solver_type == "ODE":
        return {"order": max_stage, "noise_scale": "ode", "eta": 1.0, "s_noise": s_noise}
    if solver_type == "Reverse-time SDE":
        return {"order": max_stage, "noise_scale": "reverse_sde", "eta": eta, "s_noise": s_noise}
    return {"order": max_stage, "noise_scale": "paper_default", "s_noise": s_noise,
            "eta": eta if host_version >= ER_SDE_ETA_SINCE else 1.0}


@pytest.mark.parametrize("settings", SAMPLER_ER_SDE_SETTINGS, ids=["{}-stage{}-eta{}-s{}".format(*s) for s in
                                                                    SAMPLER_ER_SDE_SETTINGS])
def test_reference_with_comfyui_noise_reproduces_each_sampler_er_sde_setting(host, tiny_models, conds, er_sde_rel_bound,
                                                                             settings):
    stock = host.nodes.NODE_CLASS_MAPPINGS["SamplerER_SDE"]().get_sampler(*settings)[0]
    inputs = our_inputs_for(settings, host.version)
    ours = host.ersde.sampling.make_sampler(**inputs, custom_noise_scale="", noise_type="comfyui", scheme="reference")
    model = tiny_models["eps"]
    theirs = sample(model, conds, stock)
    d = rel(sample(model, conds, ours), theirs, theirs)
    print(f"ComfyUI {host.version} SamplerER_SDE {settings} = our {inputs}: {d:.3e}")
    assert d < er_sde_rel_bound["eps"], f"SamplerER_SDE {settings} is {d:.2e} from our reference scheme with {inputs}"


# what the host has, read from its source at collection time (tests/comfyui/host_source.py)
HOST_SOURCE = runpy.run_path(str(Path(__file__).with_name("host_source.py")))


def host_has_model_noise_scale() -> bool:
    """Whether COMFYUI_DIR's ComfyUI has model noise scales (ModelNoiseScale, model_sampling.noise_scale:
    0.33 on; HiDream-O1 ships 8). True without COMFYUI_DIR."""
    return HOST_SOURCE["has_text"]("comfy_extras/nodes_model_advanced.py", "class ModelNoiseScale")


# the model's noise scale: None = the model as loaded (no noise scale: 1), else ModelNoiseScale's value
NOISE_SCALES = [None] + ([8.0, 0.5] if host_has_model_noise_scale() else [])


def with_noise_scale(host, model, noise_scale):
    if noise_scale is None:
        return model
    return host.nodes.NODE_CLASS_MAPPINGS["ModelNoiseScale"]().patch(model, noise_scale)[0]


@pytest.mark.parametrize("noise_scale", NOISE_SCALES, ids=lambda v: f"model_noise_scale_{v}")
def test_every_name_and_node_scales_its_injected_noise_by_the_models_noise_scale(host, tiny_models, conds,
                                                                                  monkeypatch, noise_scale):
    """As every stock SDE sampler does (s_noise * model_sampling.noise_scale): each dropdown name, the
    auto one included, and both nodes' sampler hand the solver s_noise times the model's noise scale."""
    import comfy.samplers
    solver = host.ersde.sampling.solver
    seen: list[float] = []
    original = solver.sample_er_sde

    def recording(*args, **kwargs):
        seen.append(kwargs["s_noise"])
        return original(*args, **kwargs)

    monkeypatch.setattr(solver, "sample_er_sde", recording)
    model = with_noise_scale(host, tiny_models["flow"], noise_scale)
    samplers = [comfy.samplers.sampler_object(name) for name in host.ersde.names.SAMPLER_NAMES]
    samplers.append(host.ersde.sampling.make_sampler(order=2, noise_scale="paper_default", custom_noise_scale="",
                                                     eta=1.0, s_noise=0.75, noise_type="gaussian", scheme="corrected"))
    for sampler in samplers:
        sample(model, conds, sampler)
    expected = [1.0 * (noise_scale or 1.0)] * (len(samplers) - 1) + [0.75 * (noise_scale or 1.0)]
    assert seen == pytest.approx(expected), f"model noise scale {noise_scale}: the solver got s_noise {seen}"


if host_has_model_noise_scale():  # ComfyUI 0.33 on; 0.3.64 has no model noise scale to reproduce
    @pytest.mark.parametrize("noise_scale", [v for v in NOISE_SCALES if v is not None],
                             ids=lambda v: f"model_noise_scale_{v}")
    def test_reference_with_comfyui_noise_reproduces_er_sde_on_a_model_with_a_noise_scale(host, tiny_models, conds,
                                                                                          er_sde_rel_bound, noise_scale):
        """ModelNoiseScale (HiDream-O1 ships 8): the starting noise and every step's noise are the stock
        sampler's size, so reference + comfyui still reproduces er_sde; ignoring the scale is far off."""
        import comfy.samplers
        model = with_noise_scale(host, tiny_models["flow"], noise_scale)
        builtin = sample(model, conds, comfy.samplers.ksampler("er_sde"))
        options = dict(order=3, noise_scale="paper_default", custom_noise_scale="", eta=1.0, noise_type="comfyui",
                       scheme="reference")
        ours = sample(model, conds, host.ersde.sampling.make_sampler(**options, s_noise=1.0))
        unscaled = sample(model, conds, host.ersde.sampling.make_sampler(**options, s_noise=1.0 / noise_scale))
        d, d_unscaled = rel(ours, builtin, builtin), rel(unscaled, builtin, builtin)
        print(f"model noise scale {noise_scale}: reference + comfyui {d:.3e}, step noise left unscaled {d_unscaled:.3e}")
        assert d < er_sde_rel_bound["flow"], f"noise scale {noise_scale}: reference + comfyui is {d:.2e} from er_sde"
        assert d_unscaled > 10 * er_sde_rel_bound["flow"], "the test cannot tell scaled from unscaled step noise"
