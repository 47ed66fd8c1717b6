"""The benchmark's class-conditional models, their guidance wrapper and the equal-NFE rule."""
from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("param", ["edm", "flow"])
def test_labelled_weights_guidance_is_uncond_plus_scaled_difference(param):
    from bench.models.labelled import NULL_LABEL, load_labelled, weights_path
    assert weights_path(param).stat().st_size < 2 * 1024 * 1024
    m = load_labelled(param)
    labels = torch.arange(16) % 10
    gen = torch.Generator().manual_seed(0)
    sigma = torch.full((16,), 0.7 if param == "flow" else 2.0)
    x = torch.randn(16, 64, generator=gen) * sigma[0]
    g = m.guided(labels, 3.0)
    guided, uncond = g.both(x, sigma)
    torch.testing.assert_close(uncond, m.uncond(x, sigma))
    torch.testing.assert_close(g.last_cond, m.cond(x, sigma, labels))
    torch.testing.assert_close(guided, uncond + 3.0 * (g.last_cond - uncond))
    torch.testing.assert_close(g(x, sigma), guided)
    # the label matters (a model that ignored it would make guidance a no-op)
    assert (m.cond(x, sigma, labels) - m.cond(x, sigma, torch.full_like(labels, NULL_LABEL))).abs().mean() > 1e-3


@pytest.mark.parametrize("param", ["edm", "flow"])
def test_labelled_model_denoises_its_class(param):
    pytest.importorskip("sklearn")
    from bench.models.digits import load_digits_data, load_digits_labels, load_models
    from bench.models.labelled import load_labelled
    m = load_labelled(param)
    _, classifier = load_models()
    data, labels = load_digits_data()[:300], load_digits_labels()[:300]
    gen = torch.Generator().manual_seed(1)
    for sigma in ((0.2, 0.5) if param == "flow" else (0.3, 1.0)):
        eps = torch.randn(data.shape, generator=gen)
        noisy = (1 - sigma) * data + sigma * eps if param == "flow" else data + sigma * eps
        s = torch.full((300,), sigma)
        err_cond = ((m.cond(noisy, s, labels) - data) ** 2).mean()
        err_uncond = ((m.uncond(noisy, s) - data) ** 2).mean()
        assert err_cond < err_uncond  # knowing the class helps
        assert err_uncond < 0.7 * ((noisy - data) ** 2).mean()
    # at a high noise level the conditional prediction is already recognisably its class
    s = torch.full((300,), 0.9 if param == "flow" else 5.0)
    x = torch.randn(300, 64, generator=gen) * s[0]
    accuracy = (classifier(m.cond(x, s, labels)).argmax(1) == labels).float().mean()
    assert accuracy > 0.8


def test_equal_nfe_counts_model_calls():
    from bench.samplers import CountingModel, ours, Sampler, sigmas_for, steps_for

    def two_calls(model, x, sigmas, seed, space="edm"):  # a Heun-like sampler: two calls a step
        for i in range(len(sigmas) - 1):
            model(x, sigmas[i])
            if sigmas[i + 1] > 0:
                model(x, sigmas[i + 1])
        return x

    s2 = Sampler("two", two_calls, "ode")
    for nfe in (10, 20, 50):
        steps = steps_for(s2, nfe)
        counted = CountingModel(lambda x, s, **_: x)
        two_calls(counted, torch.zeros(2, 4), sigmas_for("edm", steps), 0)
        assert counted.calls <= nfe and counted.calls >= nfe - 1
    assert steps_for(Sampler("ER", ours(3), "paper"), 20, "flow") == 20


def test_comfy_adapter_answers_post_cfg_hooks():
    from bench.models.labelled import load_labelled
    from bench.samplers import _ComfyModel
    m = load_labelled("edm")
    labels = torch.arange(4)
    g = m.guided(labels, 2.0)
    seen = {}

    def hook(args):
        seen.update(args)
        return args["denoised"]
    x, sigma = torch.randn(4, 64) * 3, torch.full((4,), 3.0)
    out = _ComfyModel(g, None)(x, sigma, model_options={"sampler_post_cfg_function": [hook]})
    torch.testing.assert_close(out, g(x, sigma))
    torch.testing.assert_close(seen["uncond_denoised"], m.uncond(x, sigma))
    torch.testing.assert_close(seen["cond_denoised"], m.cond(x, sigma, labels))
    assert seen["cond_scale"] == 2.0
