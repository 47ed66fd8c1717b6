"""The held-out photograph models (bench.models.photo): committed weights, guidance, denoising,
the data they were trained on, and their registration (by name only, never in a default list)."""
from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("param", ["edm", "flow"])
def test_photo_weights_are_small_and_guidance_is_uncond_plus_scaled_difference(param):
    from bench.models.labelled import NULL_LABEL
    from bench.models.photo import load_photo, weights_path
    assert weights_path(param).stat().st_size < 512 * 1024
    m = load_photo(param)
    assert m.param == param
    labels = torch.arange(20) % 10
    sigma = torch.full((20,), 0.7 if param == "flow" else 2.0)
    x = torch.randn(20, 64, generator=torch.Generator().manual_seed(0)) * sigma[0]
    g = m.guided(labels, 3.0)
    guided, uncond = g.both(x, sigma)
    torch.testing.assert_close(uncond, m.uncond(x, sigma))
    torch.testing.assert_close(guided, uncond + 3.0 * (g.last_cond - uncond))
    # guidance changes the output: the net uses the label
    assert (m.cond(x, sigma, labels) - m.cond(x, sigma, torch.full_like(labels, NULL_LABEL))).abs().mean() > 1e-3
    # deterministic: a second load gives the same prediction, bit for bit
    torch.testing.assert_close(load_photo(param).guided(labels, 3.0)(x, sigma), guided, rtol=0, atol=0)


def photo_data():
    pytest.importorskip("skimage", reason="the photo data comes from scikit-image's wheel (the bench extra)")
    pytest.importorskip("sklearn")
    from bench.models.photo import load_photo_data, load_photo_labels
    return load_photo_data(), load_photo_labels()


def test_photo_data_is_what_the_weights_were_trained_on():
    from bench.models.photo import weights_path
    data, labels = photo_data()
    assert data.shape == (2000, 64) and data.min() >= -1 and data.max() <= 1
    assert torch.bincount(labels).tolist() == [200] * 10
    for param in ("edm", "flow"):
        trained = torch.load(weights_path(param), map_location="cpu", weights_only=True)["trained"]
        assert float(data.double().sum()) == pytest.approx(trained["data_sum"], rel=1e-9)
        assert float((data.double() ** 2).sum()) == pytest.approx(trained["data_sq_sum"], rel=1e-9)


@pytest.mark.parametrize("param", ["edm", "flow"])
def test_photo_model_denoises_better_than_the_identity_and_knows_the_class(param):
    from bench.models.photo import load_photo
    data, labels = photo_data()
    m = load_photo(param)
    gen = torch.Generator().manual_seed(1)
    for sigma in ((0.2, 0.5) if param == "flow" else (0.3, 1.0)):
        eps = torch.randn(data.shape, generator=gen)
        noisy = (1 - sigma) * data + sigma * eps if param == "flow" else data + sigma * eps
        s = torch.full((data.shape[0],), sigma)
        err_cond = ((m.cond(noisy, s, labels) - data) ** 2).mean()
        err_uncond = ((m.uncond(noisy, s) - data) ** 2).mean()
        assert err_cond < err_uncond  # knowing the source photograph helps
        assert err_uncond < 0.7 * ((noisy - data) ** 2).mean()


@pytest.mark.parametrize("space", ["edm", "flow"])
def test_photo_samples_are_of_the_requested_source_and_guidance_sharpens_them(space):
    from bench.models import BENCHMARKS
    from bench.samplers import our_samplers, sigmas_for
    photo_data()
    er_sde_3 = next(s for s in our_samplers() if s.name == "ER-SDE-3")
    prefix = "photo" if space == "edm" else "flow_photo"
    sigmas = sigmas_for(space, 20)
    accuracy = {}
    for scale in (1, 3):
        problem = BENCHMARKS[f"{prefix}_cfg{scale}"](500)
        x = torch.randn(500, 64, generator=torch.Generator().manual_seed(0)) * sigmas[0]
        accuracy[scale] = problem.accuracy(er_sde_3.run(problem.model, x, sigmas, 0, space))
    # chance is 0.1; the source classifier gets 0.61 on held-out data
    assert accuracy[1] > 0.3
    assert accuracy[3] > accuracy[1] + 0.1


def test_photo_models_are_registered_by_name_and_left_out_of_defaults():
    from bench.models import BENCHMARKS, FITTED, HELD_OUT
    assert set(HELD_OUT) <= set(BENCHMARKS) and not set(HELD_OUT) & set(FITTED)
    photo_data()
    problem = BENCHMARKS["flow_photo_cfg3"](40)
    assert problem.name == "flow_photo_cfg3" and problem.space == "flow" and problem.dim == 64
    x = torch.randn(40, 64) * 0.9
    out = problem.model(x, torch.full((40,), 0.9))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert problem.features(out).shape == (40, 64) and 0.0 <= problem.accuracy(out) <= 1.0
    assert BENCHMARKS["photo_cfg1"](10).space == "edm"
