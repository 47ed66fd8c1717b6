"""register() against the real PyPI k-diffusion package."""
import importlib
import sys
import types

import pytest
import torch

import k_diffusion_ext
from k_diffusion_ext import SAMPLER_FUNCTIONS, register

NAMES = ["sample_er_sde_solver_1", "sample_er_sde_solver_2", "sample_er_sde_solver_3"]
AUTO = "sample_er_sde_solver_auto"  # added in 0.3.0


def test_register_sets_exactly_the_released_names_and_is_idempotent():
    module = types.ModuleType("fake_sampling_module")
    module.sample_euler = sentinel = object()
    register(module)
    before = dict(vars(module))
    register(module)
    assert dict(vars(module)) == before
    added = {k for k in vars(module) if k.startswith("sample_")} - {"sample_euler"}
    assert added == set(NAMES) | {AUTO}
    assert module.sample_euler is sentinel


def test_released_sampler_function_names_never_change():
    assert sorted(SAMPLER_FUNCTIONS) == NAMES + [AUTO]
    for name in NAMES + [AUTO]:
        assert getattr(k_diffusion_ext.registration, name) is SAMPLER_FUNCTIONS[name]


def test_fixed_order_functions_use_their_order():
    from k_diffusion_ext.analytic import gaussian_denoiser, karras_sigmas
    model = gaussian_denoiser(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 80
    for order, name in enumerate(NAMES, start=1):
        a = SAMPLER_FUNCTIONS[name](model, x, karras_sigmas(6), {"seed": 1}, None, True)
        b = k_diffusion_ext.sample_er_sde(model, x, karras_sigmas(6), {"seed": 1}, disable=True, order=order)
        assert torch.equal(a, b)


@pytest.mark.parametrize("guidance", [None, 1.0, 4.0, 7.0])
def test_auto_function_samples_as_scheme_auto_at_order_3_with_the_guidance_given(guidance):
    from k_diffusion_ext.analytic import gaussian_denoiser, karras_sigmas
    model = gaussian_denoiser(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 80
    a = SAMPLER_FUNCTIONS[AUTO](model, x, karras_sigmas(12), {"seed": 1}, None, True, guidance_scale=guidance)
    b = k_diffusion_ext.sample_er_sde(model, x, karras_sigmas(12), {"seed": 1}, disable=True, order=3,
                                      scheme="auto", guidance_scale=guidance)
    assert torch.equal(a, b)


@pytest.fixture(scope="module")
def k_diffusion():
    try:
        return importlib.import_module("k_diffusion")
    except Exception as exc:  # ImportError, or pkg_resources missing with setuptools >= 81
        pytest.skip(f"PyPI k-diffusion is not importable ({exc}); pip install -e '.[kdiffusion]'")


def test_registered_solver_runs_with_a_k_diffusion_denoiser(k_diffusion):
    register(k_diffusion.sampling)

    class TinyEpsNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x, sigma, **kwargs):
            return self.conv(x) * 0.1

    torch.manual_seed(0)
    denoiser = k_diffusion.external.VDenoiser(TinyEpsNet())  # a real k-diffusion wrapper (v-prediction)
    sigmas = k_diffusion.sampling.get_sigmas_karras(8, 0.03, 14.6)
    x = torch.randn(2, 4, 8, 8) * sigmas[0]
    steps = []
    out = k_diffusion.sampling.sample_er_sde_solver_3(denoiser, x, sigmas, callback=steps.append, disable=True)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert [s["i"] for s in steps] == list(range(8))
    # the last step to sigma 0 returns the model's prediction
    torch.testing.assert_close(out, steps[-1]["denoised"])
    assert "sample_er_sde" not in vars(k_diffusion.sampling) or k_diffusion.sampling.sample_er_sde is not k_diffusion_ext.sample_er_sde
