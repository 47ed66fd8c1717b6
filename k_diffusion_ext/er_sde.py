"""ER-SDE-Solver (Cui et al., "Elucidating the Solution Space of Extended Reverse-Time SDE
for Diffusion Models", arXiv 2309.06169) as a k-diffusion-style sampler."""
from __future__ import annotations

from typing import Any, Callable

import torch

from .coefficients import Step, plan_steps, validate_alphas, validate_sigmas
from .guard import leaves_range
from .noise import NoiseSampler, per_item_noise_sampler
from .noise_scales import DEFAULT_NOISE_SCALE, NoiseScale, resolve_noise_scale

try:
    from tqdm.auto import trange
except ImportError:  # the solver needs only torch; no progress bar then
    def trange(n: int, disable: bool | None = None, **_: Any) -> range:
        return range(n)


@torch.no_grad()
def sample_er_sde(model: Callable[..., torch.Tensor], x: torch.Tensor, sigmas: torch.Tensor,
                  extra_args: dict | None = None, callback: Callable[[dict], Any] | None = None,
                  disable: bool | None = None, *, order: int = 3,
                  noise_scale: str | NoiseScale = DEFAULT_NOISE_SCALE, eta: float = 1.0, s_noise: float = 1.0,
                  noise_sampler: NoiseSampler | None = None, alphas: torch.Tensor | None = None,
                  scheme: str = "corrected", uncond: Callable[[], torch.Tensor] | None = None,
                  guidance_scale: float | None = None) -> torch.Tensor:
    """ER-SDE-Solver-1/2/3: multistep solver of the extended reverse-time SDE, one model call a step.

    The step, its exact integrals and the schemes: docs/solver.md#the-step and
    docs/solver.md#schemes; CFG++: docs/guidance.md#cfg; scheme "auto":
    docs/guidance.md#er-sde-solver-auto; the guard: docs/guidance.md#guard-strong-guidance-on-noisy-plans.

    Args:
        model: the denoiser, ``model(x, sigma * s_in, **extra_args)`` -> x0 prediction.
        x: the starting latent, already scaled to sigmas[0] by the host.
        sigmas: the schedule, 1-D, finite, non-increasing, >= 0; a final 0 returns the prediction.
        order: 1, 2 or 3 (ramping up over the first steps).
        noise_scale: a name from NOISE_SCALES, an expression in x (e.g. "x * (exp(x**0.3) + 10)")
            or a callable phi on float64 tensors; phi > 0 with phi(x)/x non-decreasing.
        eta: noise strength that keeps the shape: psi(x) = x^(1 - eta) phi(x)^eta (0 = ODE).
        s_noise: scales only the injected noise.
        noise_sampler: ``noise_sampler(sigma, sigma_next)`` -> unit Gaussian like x; default:
            per_item_noise_sampler: the counter-based stream (NOISE_STREAM) on x's device, keyed
            by ``extra_args["seed"]`` + batch index (without a seed, torch's RNG picks one).
        alphas: None for VE-scaled latents, else alpha per sigma (flow: 1 - sigma).
        scheme: "corrected" (true third order), "reference" (the paper's code and ComfyUI's
            er_sde: order 3 converges with order 2), "predictor_corrector" (each step redone
            through the prediction at its end, at no extra model call: order k + 1; less accurate
            with strong guidance) or "auto" (the order and scheme of a measured table for the
            plan's noise, guidance_scale and step count; auto_policy).
        uncond: CFG++ (Chung et al., arXiv 2406.08070): ``uncond()`` returns the unconditional
            x0 prediction of the model call just made, ``model`` the guided one; None: plain
            sampling, exactly as without it.
        guidance_scale: the classifier-free guidance scale the model applies (1: unguided or
            guidance-distilled, e.g. Flux); None: unknown. Read by scheme "auto" and by the
            guard (guard.py: from 3 on a noisy plan, a step falls back to order 1 per batch item
            where it would leave range). With ``uncond``, pass None (a CFG++ scale is not one).
    """
    extra_args = {} if extra_args is None else extra_args
    sigmas_cpu = validate_sigmas(sigmas)
    phi = resolve_noise_scale(noise_scale, eta)
    steps = plan_steps(sigmas_cpu, validate_alphas(alphas, sigmas_cpu), phi, order, scheme, float(s_noise),
                       guidance_scale)
    return run_plan(model, x, sigmas, steps, extra_args, callback, disable, noise_sampler, uncond)


def run_plan(model: Callable[..., torch.Tensor], x: torch.Tensor, sigmas: torch.Tensor, steps: list[Step],
             extra_args: dict, callback: Callable[[dict], Any] | None = None, disable: bool | None = None,
             noise_sampler: NoiseSampler | None = None,
             uncond: Callable[[], torch.Tensor] | None = None) -> torch.Tensor:
    """sample_er_sde's loop over a plan from plan_steps (validated sigmas)."""
    if noise_sampler is None and any(step.noise_std > 0 for step in steps):
        noise_sampler = per_item_noise_sampler(x, extra_args.get("seed"))
    sigma_in = sigmas[:-1, None].expand(-1, x.shape[0]).contiguous()
    sigma_cpu_list = list(sigmas.detach().to("cpu", torch.float64).unbind())
    keep = plan_history(steps)
    held: list[torch.Tensor] = []  # kept predictions, newest first
    for i in trange(len(steps), disable=disable):
        denoised = model(x, sigma_in[i], **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        step = steps[i]
        guidance = None if uncond is None or step.returns_prediction else denoised - _unconditional(uncond, denoised)
        noise = noise_sampler(sigma_cpu_list[i], sigma_cpu_list[i + 1]) if step.noise_std else None
        x, held = er_sde_step(x, steps, i, denoised, held, keep, noise, guidance)
        del denoised, guidance, noise  # not held through the next model call unless the order needs it
    return x


def plan_history(steps: list[Step]) -> int:
    """How many earlier predictions a run of this plan keeps: what its divided differences and
    correctors reach back to (fewer held latents for low orders)."""
    return max((max([k for k, w in enumerate(step.d_weights) if w] + [len(step.corrector) - 1]) for step in steps),
               default=0)


def er_sde_step(x: torch.Tensor, steps: list[Step], i: int, denoised: torch.Tensor, held: list[torch.Tensor],
                keep: int, noise: torch.Tensor | None = None,
                guidance: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Step i of a plan, after the model call at x gave ``denoised``: the corrector of step i - 1
    (scheme "predictor_corrector"; none on the final step), then the update of step i.

    ``held``: the kept predictions of the earlier steps, newest first (start with []); ``keep``:
    ``plan_history(steps)``; ``noise`` and ``guidance`` as for ``er_sde_update``. Returns the
    latent at the next sigma and the new ``held``. sample_er_sde's loop and the diffusers
    scheduler's step() both call this, so every scheme behaves the same in both."""
    step = steps[i]
    kept = history_prediction(step, denoised, guidance)
    if i and steps[i - 1].corrector and not step.returns_prediction:
        x = er_sde_correct(x, steps[i - 1], kept, *held)
    x = er_sde_update(x, step, denoised, *(held + [None, None])[:2], noise, guidance)
    return x, ([kept] + held[:keep - 1] if keep else held)


def er_sde_update(x: torch.Tensor, step: Step, denoised: torch.Tensor, previous: torch.Tensor | None = None,
                  older: torch.Tensor | None = None, noise: torch.Tensor | None = None,
                  guidance: torch.Tensor | None = None) -> torch.Tensor:
    """One step of a plan from ``plan_steps``: the latent at the next sigma (a new tensor).

    x_next = x_weight x + w_0 denoised + w_1 previous + w_2 older + noise_std noise
    (+ cfg_pp_kick guidance with CFG++), or the prediction itself on the step to sigma = 0.
    ``previous`` and ``older`` are the kept predictions (``history_prediction``) of the two
    steps before; ``noise`` is unit Gaussian like x, needed only where step.noise_std > 0.
    A guarded step (Step.guard: strong guidance on a noisy plan, see guard.GUARD_MIN_GUIDANCE)
    takes the order-1 update for the batch items whose noise-free result leaves the range of x / alpha_s
    and the predictions it extrapolates from (widened by GUARD_SLACK of it); the others are untouched.
    ``er_sde_step`` calls it for sample_er_sde's loop and the diffusers scheduler: the math exists once."""
    if step.returns_prediction:
        return denoised.to(x.dtype)
    start = x
    w_current, w_previous, w_older = step.d_weights
    x = torch.mul(x, step.x_weight)  # a new tensor: the caller's latent is never written
    x.add_(denoised, alpha=w_current)
    if w_previous:
        x.add_(previous, alpha=w_previous)
    if w_older:
        x.add_(older, alpha=w_older)
    if guidance is not None:
        x.add_(guidance, alpha=step.cfg_pp_kick)
    if len(step.guard) == 3:  # the predictor's guard (a guard of length 1 is the corrector's alone)
        kept = history_prediction(step, denoised, guidance)
        alpha_t, inv_alpha_s, drift = step.guard
        y_s = start if inv_alpha_s == 1.0 else start * inv_alpha_s
        outside = leaves_range(x if alpha_t == 1.0 else x / alpha_t, y_s, kept, previous if w_previous else None,
                                older if w_older else None)  # the points this step extrapolates from
        x = torch.where(outside, torch.mul(start, step.x_weight).add_(kept, alpha=drift), x)
    if step.noise_std:
        if noise is None:
            raise ValueError("this step injects noise (noise_std > 0): pass unit Gaussian noise shaped like x")
        x.add_(noise, alpha=step.noise_std)
    return x


def er_sde_correct(x: torch.Tensor, step: Step, current: torch.Tensor, *earlier: torch.Tensor) -> torch.Tensor:
    """Scheme "predictor_corrector": the corrector of ``step`` (the step that produced x), after
    the model has been called at x: ``current`` is that call's kept prediction
    (``history_prediction``), ``earlier`` the predictions ``step`` itself used, newest first
    (its start point's, then the ones before). Returns a new tensor:
    x + sum(step.corrector[k] * prediction_k), the step redone from the same start with the same
    noise and the interpolation through ``current`` too (see corrector.corrector_weights).
    The model's prediction at the uncorrected x stays the one the next step uses."""
    if not step.corrector:
        return x
    predictions = (current,) + earlier
    if len(predictions) < len(step.corrector):
        raise ValueError(f"this corrector needs {len(step.corrector) - 1} earlier predictions, got {len(earlier)}")
    corrected = None  # the first term makes the new tensor: no copy of x first (one operator a step less)
    for weight, prediction in zip(step.corrector, predictions):
        if weight:
            corrected = torch.add(x, prediction, alpha=weight) if corrected is None \
                else corrected.add_(prediction, alpha=weight)
    if corrected is None:
        corrected = x.clone()
    if not step.guard:
        return corrected
    # guarded plans: the corrector is dropped for the items its change takes out of the range of
    # the predicted point and the predictions (the same test as the predictor's)
    alpha_t = step.guard[0]
    scaled = (x, corrected) if alpha_t == 1.0 else (x / alpha_t, corrected / alpha_t)
    return torch.where(leaves_range(scaled[1], scaled[0], *predictions[:len(step.corrector)]), x, corrected)


def history_prediction(step: Step, denoised: torch.Tensor, guidance: torch.Tensor | None = None) -> torch.Tensor:
    """The prediction the next steps' divided differences use: the model's, or with CFG++ the
    CFG-equivalent x0_e = x0_g + r / (1 - r) (x0_g - x0_u) (see sample_er_sde)."""
    return denoised if guidance is None else denoised.add(guidance, alpha=step.cfg_pp_history)


def _unconditional(uncond: Callable[[], torch.Tensor], denoised: torch.Tensor) -> torch.Tensor:
    prediction = uncond()
    if not isinstance(prediction, torch.Tensor) or prediction.shape != denoised.shape:
        got = tuple(prediction.shape) if isinstance(prediction, torch.Tensor) else type(prediction).__name__
        raise ValueError(
            f"CFG++ needs the unconditional prediction of each model call: uncond() returned {got}, "
            f"expected a tensor shaped like the model's output {tuple(denoised.shape)}")
    return prediction
