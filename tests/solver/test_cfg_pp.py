"""CFG++ (sample_er_sde with `uncond`): the plain update when the two predictions agree,
CFG++'s DDIM / ancestral step at order 1, and order k where CFG++ has a limit.

The conditional / unconditional pair is exact: the unconditional model is a 4-component
Gaussian mixture, the conditional one two of its components (a class), both with their
exact denoisers. CFG++ with a fixed scale g is CFG with the scale g / (1 - r_i) on step i
(see sample_er_sde's docstring), so it has no limit as the steps shrink; with the guidance
following the steps, g_i = w (1 - r_i), it is CFG at scale w, whose deterministic limit
DOP853 solves to 1e-13.
"""
import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from k_diffusion_ext import NOISE_SCALES, sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0
BATCH = 32
STEPS = [64, 128, 256, 512]
W = 2.0  # a CFG scale that moves samples visibly off the unguided path

means = ring_mixture(4, 2.0)
unconditional = mixture_denoiser(means, 0.5)
conditional = mixture_denoiser(means[:2], 0.5)
start = torch.randn(BATCH, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * SIGMA_MAX


class GuidedPair:
    """model(x, sigma) -> x0_u + g(sigma) (x0_c - x0_u); uncond() -> that call's x0_u."""

    def __init__(self, scale):
        self.scale = scale  # float, or a function of the step's sigma
        self.last = None

    def __call__(self, x, sigma, **_):
        x0_u, x0_c = unconditional(x, sigma), conditional(x, sigma)
        g = self.scale(float(sigma[0])) if callable(self.scale) else self.scale
        self.last = x0_u
        return x0_u + g * (x0_c - x0_u)

    def uncond(self):
        return self.last


def cfg_model(x, sigma, **_):
    x0_u = unconditional(x, sigma)
    return x0_u + W * (conditional(x, sigma) - x0_u)


@pytest.mark.parametrize("flow", [False, True], ids=["ve", "flow"])
@pytest.mark.parametrize("noise_scale,scheme", [("paper_default", "corrected"), ("reverse_sde", "corrected"),
                                                 ("ode", "corrected"), ("paper_default", "reference")])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_equal_predictions_give_the_plain_update_bit_for_bit(order, noise_scale, scheme, flow):
    sigmas = karras_sigmas(12, 0.02, 0.98 if flow else 14.6, dtype=torch.float32)
    alphas = 1 - sigmas if flow else None
    x = torch.randn(3, 2, generator=torch.Generator().manual_seed(0)) * sigmas[0]
    calls = []

    def model(x, sigma, **_):
        out = unconditional(x.double(), sigma.double()).float() * (1 - sigma[:, None] if flow else 1)
        calls.append(out)
        return out

    common = dict(order=order, noise_scale=noise_scale, scheme=scheme, alphas=alphas, disable=True,
                  extra_args={"seed": 5})
    plain = sample_er_sde(model, x, sigmas, **common)
    # an equal tensor, not the same object: the update must not depend on identity
    cfg_pp = sample_er_sde(model, x, sigmas, uncond=lambda: calls[-1].clone(), **common)
    assert torch.equal(cfg_pp, plain), (
        f"CFG++ with x0_u = x0_g differs from the plain update by {(cfg_pp - plain).abs().max().item():.3g}")


def _ddim_cfg_pp(model, x, sigmas, alphas, noise_std_fn, noises):
    """CFG++'s first-order step written from the paper (Chung et al. 2024, Alg. 1, with
    ancestral noise): x_t = alpha_t x0_g + sigma_down (x_s - alpha_s x0_u) / sigma_s + noise."""
    for i in range(len(sigmas) - 1):
        x0_g = model(x, sigmas[i].expand(x.shape[0]))
        x0_u = model.uncond()
        if sigmas[i + 1] == 0:
            return x0_g
        down, up = noise_std_fn(sigmas[i] / alphas[i], sigmas[i + 1] / alphas[i + 1])
        x = alphas[i + 1] * (x0_g + down * (x / alphas[i] - x0_u) / (sigmas[i] / alphas[i])) \
            + alphas[i + 1] * up * noises[i]
    return x


@pytest.mark.parametrize("flow", [False, True], ids=["ve", "flow"])
@pytest.mark.parametrize("noise_scale", ["ode", "reverse_sde"])
def test_order_1_is_cfg_pp_ddim_and_its_ancestral_variant(noise_scale, flow):
    """phi = x: CFG++'s DDIM (ComfyUI's euler_cfg_pp); phi = x^2: its ancestral step with eta = 1
    (euler_ancestral_cfg_pp): sigma_down = lambda_t^2 / lambda_s, sigma_up^2 = lambda_t^2 - sigma_down^2."""
    sigmas = karras_sigmas(10, 0.2, 0.97 if flow else 20.0)
    alphas = 1 - sigmas if flow else torch.ones_like(sigmas)
    x = torch.randn(BATCH, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * sigmas[0]
    noises = torch.randn(len(sigmas), BATCH, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    if noise_scale == "ode":
        steps_fn = lambda ls, lt: (lt, 0.0)
    else:
        steps_fn = lambda ls, lt: (lt * lt / ls, math.sqrt(max(lt * lt - (lt * lt / ls) ** 2, 0.0)))
    pair = GuidedPair(1.5)
    reference = _ddim_cfg_pp(pair, x, sigmas, alphas, steps_fn, noises)
    drawn = iter(range(len(sigmas)))
    # s_noise = 0 for phi = x: there lambda_t^2 - (lambda_s r)^2 rounds to ~1e-15, not to 0
    ours = sample_er_sde(pair, x, sigmas, order=1, noise_scale=noise_scale, uncond=pair.uncond, disable=True,
                         alphas=alphas if flow else None, noise_sampler=lambda s, t: noises[next(drawn)],
                         s_noise=0.0 if noise_scale == "ode" else 1.0)
    assert torch.allclose(ours, reference, rtol=1e-10, atol=1e-10), (
        f"order-1 CFG++ is not CFG++'s step: max difference {(ours - reference).abs().max().item():.3g}")
    plain = sample_er_sde(pair, x, sigmas, order=1, noise_scale=noise_scale, disable=True,
                          alphas=alphas if flow else None, noise_sampler=lambda s, t: noises[0] * 0)
    assert (ours - plain).norm() > 0.1 * plain.norm(), "CFG++ should differ from plain CFG at the same scale"


def _log_derivative(phi, lam: float) -> float:
    t = torch.tensor(lam, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(torch.log(phi(t)), t)
    return grad.item()


REFERENCES = {}


def _cfg_reference(noise_scale: str) -> torch.Tensor:
    """The deterministic ER SDE, dx/dlambda = (phi'/phi) (x - x0_w), of CFG at scale W."""
    if noise_scale not in REFERENCES:
        phi = NOISE_SCALES[noise_scale]

        def rhs(lam, y):
            x = torch.from_numpy(y).view(BATCH, 2)
            return (_log_derivative(phi, lam) * (x - cfg_model(x, torch.full((BATCH,), lam, dtype=torch.float64)))).reshape(-1).numpy()

        sol = solve_ivp(rhs, (SIGMA_MAX, SIGMA_MIN), start.reshape(-1).numpy(), method="DOP853", rtol=1e-13,
                        atol=1e-13)
        assert sol.success, sol.message
        x_end = torch.from_numpy(sol.y[:, -1]).view(BATCH, 2)
        REFERENCES[noise_scale] = cfg_model(x_end, torch.full((BATCH,), SIGMA_MIN, dtype=torch.float64))
    return REFERENCES[noise_scale]


def _stepwise_guidance(noise_scale: str, sigmas: torch.Tensor):
    """g_i = W (1 - r_i), r_i = phi(lambda_{i+1}) / phi(lambda_i) (r = 0 on the step to sigma = 0)."""
    phi = NOISE_SCALES[noise_scale]
    scale = {}
    for s, t in zip(sigmas[:-1].tolist(), sigmas[1:].tolist()):
        r = 0.0 if t == 0 else float(phi(torch.tensor(t, dtype=torch.float64)) / phi(torch.tensor(s, dtype=torch.float64)))
        scale[s] = W * (1.0 - r)
    return lambda sigma: scale[sigma]


def _cfg_pp_order(noise_scale: str, s_noise: float, order: int, scheme: str = "corrected") -> tuple[float, list[float]]:
    target = _cfg_reference(noise_scale)
    errors = []
    for steps in STEPS:
        sigmas = karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX)
        pair = GuidedPair(_stepwise_guidance(noise_scale, sigmas))
        out = sample_er_sde(pair, start, sigmas, order=order, noise_scale=noise_scale, s_noise=s_noise,
                            uncond=pair.uncond, disable=True, scheme=scheme)
        errors.append(((out - target).norm() / target.norm()).item())
    assert all(e > 1e-13 for e in errors), f"errors reached round-off, the fit means nothing: {errors}"
    return -np.polyfit(np.log(STEPS), np.log(errors), 1)[0], errors


@pytest.mark.parametrize("noise_scale,s_noise", [("ode", 1.0), ("paper_default", 0.0)])
@pytest.mark.parametrize("order,minimum", [(1, 0.95), (2, 1.9), (3, 2.8)])
def test_cfg_pp_converges_with_the_solver_order_where_it_has_a_limit(noise_scale, s_noise, order, minimum):
    slope, errors = _cfg_pp_order(noise_scale, s_noise, order)
    assert minimum <= slope < order + 0.5, f"CFG++ order {order} converges with order {slope:.2f} (errors {errors})"


@pytest.mark.parametrize("noise_scale,s_noise", [("ode", 1.0), ("paper_default", 0.0)])
@pytest.mark.parametrize("order,minimum", [(1, 1.9), (2, 2.85), (3, 3.8)])
def test_cfg_pp_with_predictor_corrector_converges_one_order_higher(noise_scale, s_noise, order, minimum):
    """The corrector runs on the CFG-equivalent predictions x0_e (the history), so CFG++ keeps p + 1."""
    slope, errors = _cfg_pp_order(noise_scale, s_noise, order, "predictor_corrector")
    assert minimum <= slope < order + 1.6, (
        f"CFG++ predictor-corrector order {order} converges with order {slope:.2f} (errors {errors})")


def test_guided_samples_move_toward_the_class():
    """The pair is a real guidance problem: CFG++ at a fixed scale puts more samples in the
    conditional components than unguided sampling does."""
    sigmas = karras_sigmas(20, SIGMA_MIN, SIGMA_MAX)
    x = torch.randn(2000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(9)) * SIGMA_MAX

    def in_class(samples):
        nearest = torch.cdist(samples, means).argmin(dim=1)
        return (nearest < 2).double().mean().item()

    pair = GuidedPair(1.0)
    guided = sample_er_sde(pair, x, sigmas, uncond=pair.uncond, disable=True, extra_args={"seed": 1})
    free = sample_er_sde(unconditional, x, sigmas, disable=True, extra_args={"seed": 1})
    assert in_class(free) < 0.6 and in_class(guided) > 0.95, (in_class(free), in_class(guided))


def test_uncond_returning_nothing_is_a_clear_error():
    sigmas = karras_sigmas(4, 0.1, 10.0)
    with pytest.raises(ValueError, match="unconditional prediction"):
        sample_er_sde(unconditional, torch.zeros(2, 2, dtype=torch.float64), sigmas, uncond=lambda: None,
                      disable=True)


@pytest.mark.parametrize("order", [2, 3])
def test_x0_derivatives_from_the_guided_predictions_would_fall_to_first_order(monkeypatch, order):
    """Why x0' and x0'' come from the CFG-equivalent predictions: with the guided predictions in
    the divided differences (history = x0_g, kick = alpha_t r) orders 2 and 3 converge with order 1."""
    import k_diffusion_ext.er_sde as er_sde
    plan = er_sde.plan_steps

    def guided_history(*args, **kwargs):  # VE: alpha = 1, so alpha_t r = x_weight
        return [s if s.returns_prediction else s._replace(cfg_pp_kick=s.x_weight, cfg_pp_history=0.0)
                for s in plan(*args, **kwargs)]

    monkeypatch.setattr(er_sde, "plan_steps", guided_history)
    slope, errors = _cfg_pp_order("paper_default", 0.0, order)
    assert slope < 1.2, f"the guided-difference variant converges with order {slope:.2f} (errors {errors})"
