"""S1 and S2 of every noise scale against 30-digit mpmath quadrature: 1e-10 relative or better."""
import mpmath as mp
import pytest
import torch

from k_diffusion_ext import NOISE_SCALES, parse_noise_scale, with_strength
from k_diffusion_ext.analytic import karras_sigmas
from k_diffusion_ext.coefficients import step_integrals

mp.mp.dps = 30

# written independently of the package, in mpmath
MP_PHI = {
    "paper_default": lambda x: x * (mp.exp(x ** mp.mpf("0.3")) + 10),
    "ode": lambda x: x,
    "reverse_sde": lambda x: x ** 2,
    "exp_neg_inv": lambda x: x * (mp.exp(-1 / x) + 10),
    "power_1.5": lambda x: x ** mp.mpf("1.5"),
    "power_2.5": lambda x: x ** mp.mpf("2.5"),
    "log_mix": lambda x: x ** mp.mpf("0.9") * mp.log10(1 + 100 * x ** mp.mpf("1.5")),
}


def edm_lambdas(steps=20):
    sigmas = karras_sigmas(steps)[:-1]
    return sigmas[:-1], sigmas[1:]


def flow_lambdas(steps=20):
    sigmas = torch.linspace(0.999, 0.02, steps, dtype=torch.float64)
    lam = sigmas / (1 - sigmas)
    return lam[:-1], lam[1:]


def mp_integrals(phi, lam_s, lam_t):
    ls, lt = mp.mpf(lam_s), mp.mpf(lam_t)
    s1 = mp.quad(lambda l: 1 / phi(l), [lt, ls])
    s2 = mp.quad(lambda l: (l - ls) / phi(l), [lt, ls])
    return s1, s2


def assert_integrals_match(phi, mp_phi, lam_s, lam_t, tol=1e-10):
    s1, s2 = step_integrals(phi, lam_s, lam_t)
    for i in range(lam_s.numel()):
        e1, e2 = mp_integrals(mp_phi, lam_s[i].item(), lam_t[i].item())
        rel1 = abs((s1[i].item() - e1) / e1)
        rel2 = abs((s2[i].item() - e2) / e2)
        assert rel1 <= tol and rel2 <= tol, (
            f"step {i} (lambda {lam_s[i].item():.4g} -> {lam_t[i].item():.4g}): S1 off by {float(rel1):.2e}, "
            f"S2 off by {float(rel2):.2e} relative")


@pytest.mark.parametrize("name", sorted(MP_PHI))
@pytest.mark.parametrize("schedule", [edm_lambdas, flow_lambdas], ids=["edm", "flow"])
def test_named_noise_scale_integrals_are_exact_to_1e10(name, schedule):
    lam_s, lam_t = schedule()
    assert_integrals_match(NOISE_SCALES[name], MP_PHI[name], lam_s, lam_t)


def test_every_named_noise_scale_has_an_integral_test():
    assert set(MP_PHI) == set(NOISE_SCALES)


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.7])
def test_strength_reshaped_default_integrals_are_exact(eta):
    lam_s, lam_t = edm_lambdas()
    base = MP_PHI["paper_default"]
    assert_integrals_match(with_strength(NOISE_SCALES["paper_default"], eta),
                           lambda x: x ** (1 - eta) * base(x) ** eta, lam_s, lam_t)


@pytest.mark.parametrize("exponent", [1.0 + 1e-7, 1.3, 2.0 - 1e-9, 2.0, 3.0])
def test_power_law_closed_forms_stay_exact_near_their_special_cases(exponent):
    lam_s, lam_t = edm_lambdas()
    phi = with_strength(NOISE_SCALES["reverse_sde"], exponent - 1.0)
    assert phi.exponent == pytest.approx(exponent)
    assert_integrals_match(phi, lambda x: x ** mp.mpf(exponent), lam_s, lam_t)


def test_custom_expression_integrals_are_exact():
    lam_s, lam_t = edm_lambdas()
    phi = parse_noise_scale("x * (exp(x**0.3) + 10)")
    assert_integrals_match(phi, MP_PHI["paper_default"], lam_s, lam_t)
