"""Checks of the benchmark's metrics, noise and committed model (quick, CPU)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("numpy")


def test_frechet_identical_gaussians_is_zero():
    from bench.metrics import frechet_distance
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    cov = a @ a.T + np.eye(5)
    mu = rng.standard_normal(5)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-9)


def test_frechet_known_values():
    from bench.metrics import frechet_distance
    # mean shift only: |d|^2; 1-D N(0, 1) vs N(0, 4): (1 - 2)^2
    assert frechet_distance(np.zeros(3), np.eye(3), np.array([1.0, 2.0, 0.0]), np.eye(3)) == pytest.approx(5.0)
    assert frechet_distance([0.0], [[1.0]], [0.0], [[4.0]]) == pytest.approx(1.0)
    # matches scipy's sqrtm formula on random covariances
    from scipy import linalg
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    c1, c2 = a @ a.T, b @ b.T + 0.1 * np.eye(4)
    expected = np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
    assert frechet_distance(np.zeros(4), c1, np.zeros(4), c2) == pytest.approx(expected, rel=1e-6)


def test_sliced_wasserstein_detects_a_shift():
    from bench.metrics import sliced_wasserstein
    from bench.metrics import SlicedW
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4000, 8)), rng.standard_normal((4000, 8))
    same = sliced_wasserstein(x, y)
    shifted = sliced_wasserstein(x, y + np.array([0.5] + [0.0] * 7))
    assert same < 0.05
    assert shifted > 4 * same
    # the cached-reference version used by the benchmark agrees with the plain one
    assert SlicedW(y)(x) == pytest.approx(same, rel=1e-9)


def test_bridge_brownian_is_a_consistent_brownian_motion():
    from bench.samplers import BridgeBrownian
    x = torch.zeros(20000, 2, dtype=torch.float64)
    w = BridgeBrownian(x, 0.01, 10.0, seed=3)
    z1, z2 = w(10.0, 4.0), w(4.0, 1.0)
    whole = w(10.0, 1.0)
    for z in (z1, z2, whole):
        assert z.std().item() == pytest.approx(1.0, abs=0.03)
    assert torch.corrcoef(torch.stack([z1.flatten(), z2.flatten()]))[0, 1].abs() < 0.03
    # the increment over [1, 10] is the sum of the two parts
    torch.testing.assert_close(whole * 9 ** 0.5, z1 * 6 ** 0.5 + z2 * 3 ** 0.5)


def test_committed_weights_load():
    from bench.models.digits import WEIGHTS, as_sampler_model, load_models
    assert WEIGHTS.stat().st_size < 2 * 1024 * 1024
    denoiser, classifier = load_models()
    x = torch.randn(8, 64, generator=torch.Generator().manual_seed(0)) * 80
    out = as_sampler_model(denoiser)(x, torch.full((8,), 80.0))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert out.abs().max() < 3  # at sigma 80 the prediction is near the data mean, in [-1, 1]-ish
    assert classifier(out).shape == (8, 10)


def test_committed_weights_denoise_better_than_identity():
    pytest.importorskip("sklearn")  # the digits data ship with scikit-learn
    from bench.models.digits import as_sampler_model, load_models
    denoiser, classifier = load_models()
    model = as_sampler_model(denoiser)
    from bench.models.digits import load_digits_data, load_digits_labels
    data = load_digits_data()[:400]
    gen = torch.Generator().manual_seed(0)
    for sigma in (0.1, 0.5, 2.0):
        noisy = data + sigma * torch.randn(data.shape, generator=gen)
        err_model = ((model(noisy, torch.full((400,), sigma)) - data) ** 2).mean()
        err_identity = ((noisy - data) ** 2).mean()
        assert err_model < 0.7 * err_identity
    accuracy = (classifier(data).argmax(1) == load_digits_labels()[:400]).float().mean()
    assert accuracy > 0.95


def _demo():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "demo.py"
    spec = importlib.util.spec_from_file_location("er_sde_demo_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_peers_match_k_diffusion():
    kds = pytest.importorskip("k_diffusion.sampling")
    from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture
    demo = _demo()
    model = mixture_denoiser(ring_mixture(), 0.3)
    sigmas = karras_sigmas(8, 0.002, 80.0)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 80
    torch.testing.assert_close(demo.sample_dpmpp_2m(model, x, sigmas), kds.sample_dpmpp_2m(model, x, sigmas, disable=True))
    noise = torch.randn(len(sigmas), 64, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def noise_sampler():
        it = iter(noise)
        return lambda s, t: next(it)
    torch.testing.assert_close(demo.sample_euler_ancestral(model, x, sigmas, noise_sampler()),
                               kds.sample_euler_ancestral(model, x, sigmas, disable=True, noise_sampler=noise_sampler()))


def test_demo_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo.png"
    _demo().main(["--nfe", "4", "--samples", "3", "--out", str(out)])
    assert out.stat().st_size > 1000
