"""Per-step coefficients of ER-SDE-Solver, computed once per call on the CPU in float64.

For a step from s to t (lambda = sigma / alpha, lambda_t < lambda_s), with
r = phi(lambda_t) / phi(lambda_s), d = lambda_t - lambda_s,
S1 = Int_{lambda_t}^{lambda_s} dl / phi(l) and S2 = Int_{lambda_t}^{lambda_s} (l - lambda_s) / phi(l) dl:

    x_t = (alpha_t / alpha_s) r x_s + alpha_t (1 - r) x0_s
        + alpha_t (d + phi(lambda_t) S1) x0'(lambda_s)            (order >= 2)
        + alpha_t (d^2 / 2 + phi(lambda_t) S2) x0''(lambda_s)     (order 3)
        + alpha_t sqrt(lambda_t^2 - lambda_s^2 r^2) z

x0' and x0'' come from divided differences of the last three predictions, so the whole
update is a fixed linear combination of x, the current prediction, the two previous
predictions and z. The weights of that combination are what this module computes.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch

from .auto_policy import auto_choice
from .corrector import corrector_weights
from .guard import GUARD_MIN_GUIDANCE, guarded_parts
from .integrals import quadrature_integrals, step_integrals
from .noise_scales import NoiseScale, check_noise_scale

SCHEMES = ("corrected", "reference", "predictor_corrector", "auto")
PREDICTOR_CORRECTOR = "predictor_corrector"
AUTO = "auto"
# a step whose noise variance is below this fraction of lambda_t^2 is the ODE's (phi = x gives
# lambda_t^2 - (lambda_s r)^2 = 0 up to float64 rounding, ~1e-16): it injects no noise
NOISELESS = 1e-14


class Step(NamedTuple):
    """Weights of one update: x_next = x_weight x + sum(d_weights[k] * prediction_k) + noise_std z.

    CFG++ (er_sde.sample_er_sde with `uncond`) adds cfg_pp_kick * (guided - unconditional
    prediction) and keeps guided + cfg_pp_history * (guided - unconditional) for the next
    steps' divided differences; both are 0 where they do not apply."""
    x_weight: float
    d_weights: tuple[float, ...]  # current prediction, previous, the one before
    noise_std: float
    returns_prediction: bool      # the step to sigma = 0: x_next is the prediction itself
    cfg_pp_kick: float = 0.0      # d_weights[0] r / (1 - r); alpha_t at a zero-length step (r = 1)
    cfg_pp_history: float = 0.0   # r / (1 - r): the step's CFG-equivalent prediction, see er_sde
    # scheme "predictor_corrector": weights on (the prediction at this step's end point, this step's
    # start prediction, the one before, ...) that er_sde.er_sde_correct adds to this step's result
    # once the model has been called there; () where the step is not corrected
    corrector: tuple[float, ...] = ()
    # the guard (strong guidance; see guard.py): on a noisy plan, a step of order >= 2 and
    # its corrector: (alpha_t,
    # 1 / alpha_s, alpha_t (1 - r)), the last the order-1 step's weight of its prediction; the
    # corrector alone (the predictor-corrector scheme on any plan, or an order-1 step): (alpha_t,);
    # () unguarded
    guard: tuple[float, ...] = ()


def validate_sigmas(sigmas: torch.Tensor) -> torch.Tensor:
    """Check a k-diffusion schedule and return it as a CPU float64 tensor."""
    if not isinstance(sigmas, torch.Tensor):
        raise ValueError(f"sigmas must be a torch tensor, got {type(sigmas).__name__}")
    if sigmas.ndim != 1:
        raise ValueError(f"sigmas must be a 1-D tensor, got shape {tuple(sigmas.shape)}")
    if sigmas.numel() < 2:
        raise ValueError(
            f"sigmas needs at least 2 entries (a start and an end), got {sigmas.numel()}; "
            "with 0 steps, or denoise so low that no step is left, there is nothing to sample")
    s = sigmas.detach().to("cpu", torch.float64)
    bad = ~torch.isfinite(s)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(f"sigmas must be finite, but sigmas[{i}] = {s[i].item()}")
    if (s < 0).any():
        i = int((s < 0).nonzero()[0])
        raise ValueError(f"sigmas must be >= 0, but sigmas[{i}] = {s[i].item():.6g}")
    rising = s[1:] > s[:-1]
    if rising.any():
        i = int(rising.nonzero()[0])
        raise ValueError(
            f"sigmas must not increase (the sampler goes from noise to data), but sigmas[{i}] = "
            f"{s[i].item():.6g} is followed by sigmas[{i + 1}] = {s[i + 1].item():.6g}")
    return s


def validate_alphas(alphas: torch.Tensor | None, sigmas: torch.Tensor) -> torch.Tensor:
    """None means VE (alpha = 1). Otherwise one positive finite alpha per sigma."""
    if alphas is None:
        return torch.ones_like(sigmas)
    if not isinstance(alphas, torch.Tensor):
        alphas = torch.as_tensor(alphas)
    a = alphas.detach().to("cpu", torch.float64)
    if a.shape != sigmas.shape:
        raise ValueError(f"alphas must have one entry per sigma ({tuple(sigmas.shape)}), got shape {tuple(a.shape)}")
    bad = ~torch.isfinite(a) | (a <= 0)
    if bad.any():
        i = int(bad.nonzero()[0])
        hint = (" (a flow model at sigma = 1 has alpha = 0: nudge the first sigma just below 1)"
                if a[i].item() == 0 else "")
        raise ValueError(f"alphas must be finite and > 0, but alphas[{i}] = {a[i].item():.6g}{hint}")
    return a


def _derivative_weights(lams: Sequence[float], order: int, scheme: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Weights on (D_s, D_{s-1}, D_{s-2}) of the estimates of x0'(lambda_s) and x0''(lambda_s).

    lams = (lambda_s, lambda_{s-1}, lambda_{s-2}), as many as the order needs.
    Reference scheme: x0' = D[s, s-1] (first-order accurate; order 3 then converges with order 2).
    Corrected: x0' = D[s, s-1] + D[s, s-1, s-2] (lambda_s - lambda_{s-1}), the derivative of the
    interpolating parabola at lambda_s. Both: x0'' = 2 D[s, s-1, s-2]."""
    if order == 1:
        return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    l0, l1 = lams[0], lams[1]
    first = (1.0 / (l0 - l1), -1.0 / (l0 - l1), 0.0)  # D[s, s-1]
    if order == 2:
        return first, (0.0, 0.0, 0.0)
    l2 = lams[2]
    previous = (0.0, 1.0 / (l1 - l2), -1.0 / (l1 - l2))  # D[s-1, s-2]
    second = tuple((a - b) / (l0 - l2) for a, b in zip(first, previous))  # D[s, s-1, s-2]
    if scheme == "corrected":
        first = tuple(a + b * (l0 - l1) for a, b in zip(first, second))
    return first, tuple(2.0 * b for b in second)


def _noise_shares(lam_s: torch.Tensor, lam_t: torch.Tensor, phi_s: torch.Tensor, phi_t: torch.Tensor,
                  s_noise: float) -> list[float]:
    """Per step down (lambda_s > lambda_t), the fresh noise variance over the reverse SDE's on the
    same step: s_noise^2 (lambda_t^2 - (lambda_s r)^2) / (lambda_t^2 - lambda_t^4 / lambda_s^2);
    0 where the step is the ODE's (below NOISELESS, as in the plan)."""
    r = phi_t / phi_s
    variance = lam_t * lam_t - lam_s * lam_s * r * r
    variance = torch.where(variance <= NOISELESS * lam_t * lam_t, 0.0, variance)
    return (s_noise * s_noise * variance / (lam_t * lam_t * (1.0 - (lam_t / lam_s) ** 2))).tolist()


def validate_guidance_scale(guidance_scale: float | None) -> float | None:
    if guidance_scale is None:
        return None
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)) \
            or not math.isfinite(guidance_scale):
        raise ValueError(f"guidance_scale must be a finite number (the CFG scale) or None, got {guidance_scale!r}")
    return float(guidance_scale)


def plan_steps(sigmas: torch.Tensor, alphas: torch.Tensor, phi: NoiseScale, order: int,
               scheme: str = "corrected", s_noise: float = 1.0, guidance_scale: float | None = None) -> list[Step]:
    """Every step's weights as Python floats. sigmas, alphas: validated CPU float64 tensors.

    Scheme "predictor_corrector": the corrected scheme's steps, each with corrector weights
    (Step.corrector, see corrector.corrector_weights and er_sde.er_sde_correct) where a model call at the
    step's end point follows it. Scheme "auto": the plan of the order and scheme auto_choice
    picks from guidance_scale (float for float the plan plan_steps gives for that choice)."""
    if order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3, got {order!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; known schemes: {', '.join(SCHEMES)}")
    if not math.isfinite(s_noise) or s_noise < 0:
        raise ValueError(f"s_noise must be a finite number >= 0, got {s_noise}")
    guidance_scale = validate_guidance_scale(guidance_scale)
    lams = sigmas / alphas
    moving = (sigmas[:-1] > 0) & (sigmas[1:] > 0)
    idx = moving.nonzero().flatten()
    positive = lams[lams > 0]
    if positive.numel():
        check_noise_scale(phi, torch.unique(positive))
    s1 = s2 = phi_t = phi_s = lam_s = lam_t = torch.zeros(0, dtype=torch.float64)
    if idx.numel():
        lam_s, lam_t = lams[idx], lams[idx + 1]
        phi_s, phi_t = torch.as_tensor(phi(lam_s), dtype=torch.float64), torch.as_tensor(phi(lam_t), dtype=torch.float64)
    steps_down = lam_t < lam_s
    strong = guidance_scale is not None and guidance_scale >= GUARD_MIN_GUIDANCE
    shares = _noise_shares(lam_s[steps_down], lam_t[steps_down], phi_s[steps_down], phi_t[steps_down], s_noise) \
        if scheme == AUTO or strong else []
    if scheme == AUTO:  # decided first: the plan is then the chosen scheme's, float for float
        order, scheme = auto_choice(guidance_scale, shares, order)
    guard_predictor, guard_corrector = guarded_parts(guidance_scale, scheme == PREDICTOR_CORRECTOR, shares)
    if idx.numel():
        s1, s2 = step_integrals(phi, lam_s[steps_down], lam_t[steps_down]) if steps_down.any() else (s1, s2)
        full = torch.zeros((2, idx.numel()), dtype=torch.float64)
        full[0, steps_down], full[1, steps_down] = s1, s2
        s1, s2 = full[0].tolist(), full[1].tolist()
        if scheme == PREDICTOR_CORRECTOR and steps_down.any():
            # every S_k the corrector's cubic needs, by quadrature (no cancellation in (l - lambda_s)^k)
            moments = torch.zeros((max(order, 2), idx.numel()), dtype=torch.float64)
            moments[:, steps_down] = torch.stack(quadrature_integrals(phi, lam_s[steps_down], lam_t[steps_down],
                                                                      max(order, 2)))
            moments = moments.T.tolist()
        phi_s, phi_t = phi_s.tolist(), phi_t.tolist()
    where = {int(i): k for k, i in enumerate(idx.tolist())}

    lam, sig, alp = lams.tolist(), sigmas.tolist(), alphas.tolist()
    steps: list[Step] = []
    history = 0  # earlier predictions usable for divided differences (distinct lambdas)
    for i in range(len(sig) - 1):
        if i > 0 and lam[i] == lam[i - 1]:
            history = 0  # a repeated sigma gives no new derivative information
        if sig[i + 1] == 0 or i not in where:
            steps.append(Step(0.0, (1.0, 0.0, 0.0), 0.0, True))
        else:
            k = where[i]
            lam_s, lam_t, alpha_s, alpha_t = lam[i], lam[i + 1], alp[i], alp[i + 1]
            r = phi_t[k] / phi_s[k]
            d = lam_t - lam_s
            step_order = min(order, history + 1)
            # the predictor-corrector scheme predicts with the corrected scheme's derivatives
            first, second = _derivative_weights(lam[i::-1][:3], step_order,
                                                "reference" if scheme == "reference" else "corrected")
            c1 = alpha_t * (d + phi_t[k] * s1[k])
            c2 = alpha_t * (d * d / 2 + phi_t[k] * s2[k])
            weights = tuple(c1 * f + c2 * g for f, g in zip(first, second))
            weights = (weights[0] + alpha_t * (1.0 - r),) + weights[1:]
            corrector: tuple[float, ...] = ()
            if scheme == PREDICTOR_CORRECTOR and lam_t < lam_s:
                kernel = [0.0] + [alpha_t * (d ** j + j * phi_t[k] * moments[k][j - 1]) for j in range(1, order + 1)]
                corrector = corrector_weights(lam[i::-1][:step_order], lam_t, step_order, kernel)
            variance = lam_t * lam_t - lam_s * lam_s * r * r
            if variance <= NOISELESS * lam_t * lam_t:
                variance = 0.0  # phi = x (the ODE, eta = 0): rounding, not noise; and nothing to draw
            # CFG++: a step of zero length (r = 1) has no CFG-equivalent scale; its prediction
            # never enters a divided difference (the history restarts after it)
            history_shift = r / (1.0 - r) if r < 1.0 else 0.0
            kick = weights[0] * history_shift if r < 1.0 else alpha_t
            guard: tuple[float, ...] = ()
            if guard_predictor and step_order > 1:
                guard = (alpha_t, 1.0 / alpha_s, alpha_t * (1.0 - r))
            elif (guard_predictor or guard_corrector) and corrector:
                guard = (alpha_t,)
            steps.append(Step(alpha_t / alpha_s * r, weights, alpha_t * s_noise * math.sqrt(variance), False,
                              kick, history_shift, corrector, guard))
        history = min(history + 1, 2)
    return steps
