"""bench.expansions: the study's generic multistep solver must be the shipped one where they coincide,
or its rows say nothing about the shipped solver."""
import pytest
import torch

from bench.expansions import sample_expansion
from k_diffusion_ext import sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser

MEANS = torch.tensor([[-2.0, 0.5, 1.0], [1.5, -1.0, 0.0], [0.0, 2.0, -1.5]], dtype=torch.float64)


def _setup(space):
    model = mixture_denoiser(MEANS, 0.4)
    if space == "edm":
        sigmas = karras_sigmas(8, 0.002, 80.0)
        return model, sigmas, None
    sigmas = torch.cat([torch.linspace(0.999, 0.05, 8, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])
    alphas = 1 - sigmas

    def flow_model(x, sigma, **kw):  # the VE mixture seen through x = (1 - sigma) y, lambda = sigma / (1 - sigma)
        a = (1 - sigma)[:, None]
        return model(x / a, sigma / (1 - sigma), **kw)
    return flow_model, sigmas, alphas


@pytest.mark.parametrize("space", ["edm", "flow"])
@pytest.mark.parametrize("noise_scale", ["ode", "reverse_sde"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_x0_in_lambda_reproduces_the_shipped_solver(space, noise_scale, order):
    model, sigmas, alphas = _setup(space)
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * sigmas[0]
    shipped = sample_er_sde(model, x, sigmas, extra_args={"seed": 7}, disable=True, order=order,
                            noise_scale=noise_scale, alphas=alphas)
    study = sample_expansion(model, x, sigmas, 7, space, noise_scale=noise_scale, variable="lambda", order=order)
    torch.testing.assert_close(study, shipped, rtol=1e-9, atol=1e-9)


def test_eps_and_x0_expansions_agree_at_order_one_and_differ_above():
    model, sigmas, _ = _setup("edm")
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * sigmas[0]
    x0_1 = sample_expansion(model, x, sigmas, 0, predict="x0", order=1)
    eps_1 = sample_expansion(model, x, sigmas, 0, predict="eps", order=1)
    torch.testing.assert_close(eps_1, x0_1, rtol=1e-9, atol=1e-9)  # DDIM either way
    eps_3 = sample_expansion(model, x, sigmas, 0, predict="eps", order=3)
    assert (eps_3 - sample_expansion(model, x, sigmas, 0, predict="x0", order=3)).abs().max() > 1e-4


@pytest.mark.parametrize("option", [{"variable": "sigma"}, {"integrals": "trapezoid"}, {"predict": "v"}, {"order": 5},
                                    {"last_step": "none"}])
def test_unknown_study_options_are_named(option):
    model, sigmas, _ = _setup("edm")
    with pytest.raises(ValueError, match=f"unknown {next(iter(option))}"):
        sample_expansion(model, torch.zeros(2, 3, dtype=torch.float64), sigmas, 0, **option)


def test_eps_expansion_refuses_a_stochastic_noise_scale():
    model, sigmas, _ = _setup("edm")
    with pytest.raises(ValueError, match="ODE"):
        sample_expansion(model, torch.zeros(2, 3, dtype=torch.float64), sigmas, 0, noise_scale="reverse_sde", predict="eps")


def test_study_cli_writes_the_ode_table_and_the_shipped_error_falls_with_nfe(tmp_path):
    import json

    from bench.expansions import SHIPPED, main
    main(["--quick", "--benchmarks", "mixture", "--parts", "ode", "--out", str(tmp_path), "--tag", "t"])
    text = (tmp_path / "t.md").read_text()
    assert "## ODE" in text and SHIPPED in text
    rows = json.loads((tmp_path / "t.json").read_text())["ode"]["mixture"]["rows"]
    errors = [rows[SHIPPED][k]["rms"] for k in ("6", "10", "20", "50")]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 0.05 * errors[0]


def test_log_lambda_midpoint_order_two_is_dpm_solver_pp_2m():
    """The study's family contains k-diffusion's DPM-Solver++(2M): its rows compare like with like."""
    kds = pytest.importorskip("k_diffusion.sampling")
    model, sigmas, _ = _setup("edm")
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * sigmas[0]
    study = sample_expansion(model, x, sigmas, 0, variable="log lambda", order=2, integrals="midpoint")
    torch.testing.assert_close(study, kds.sample_dpmpp_2m(model, x, sigmas, disable=True), rtol=1e-10, atol=1e-10)


def test_the_switch_takes_each_expansion_on_its_side():
    model, sigmas, _ = _setup("edm")
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * sigmas[0]
    everywhere_eps = sample_expansion(model, x, sigmas, 0, eps_above=0.0)
    nowhere_eps = sample_expansion(model, x, sigmas, 0, eps_above=1e9)
    torch.testing.assert_close(everywhere_eps, sample_expansion(model, x, sigmas, 0, predict="eps", variable="log lambda"))
    torch.testing.assert_close(nowhere_eps, sample_expansion(model, x, sigmas, 0))
    switched = sample_expansion(model, x, sigmas, 0, eps_above=1.0)
    assert (switched - everywhere_eps).abs().max() > 1e-4 and (switched - nowhere_eps).abs().max() > 1e-4
