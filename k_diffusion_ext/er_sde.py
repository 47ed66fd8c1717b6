"""ER-SDE-Solver (Cui et al., "Elucidating the Solution Space of Extended Reverse-Time SDE
for Diffusion Models", arXiv 2309.06169) as a k-diffusion-style sampler."""
from __future__ import annotations

from typing import Any, Callable

import torch

from .coefficients import plan_steps, validate_alphas, validate_sigmas
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
                  scheme: str = "corrected") -> torch.Tensor:
    """ER-SDE-Solver-1/2/3: multistep solver of the extended reverse-time SDE, one model call a step.

    With lambda = sigma / alpha (alpha = 1 for VE-scaled latents, 1 - sigma for flow models),
    a noise-scale function phi, r = phi(lambda_t) / phi(lambda_s) and z ~ N(0, I), a step
    from s to t is

        x_t = (alpha_t / alpha_s) r x_s + alpha_t (1 - r) x0_s
            + alpha_t (d + phi(lambda_t) S1) x0'(lambda_s)             (order >= 2)
            + alpha_t (d^2/2 + phi(lambda_t) S2) x0''(lambda_s)        (order 3)
            + alpha_t s_noise sqrt(lambda_t^2 - lambda_s^2 r^2) z

    where d = lambda_t - lambda_s, S1 = Int dl / phi(l) and S2 = Int (l - lambda_s) / phi(l) dl
    over [lambda_t, lambda_s] (closed forms for power laws, Gauss-Legendre in log lambda
    otherwise). x0' and x0'' are divided differences of the last predictions; the order
    ramps up with the history, and the step to sigma = 0 returns the prediction.

    Args:
        model: the denoiser, ``model(x, sigma * s_in, **extra_args)`` -> x0 prediction.
        x: the starting latent, already scaled to sigmas[0] by the host.
        sigmas: the schedule, 1-D, finite, non-increasing, >= 0.
        order: 1, 2 or 3.
        noise_scale: a name from NOISE_SCALES, an expression in x (e.g. "x * (exp(x**0.3) + 10)")
            or a callable phi on float64 tensors; phi > 0 with phi(x)/x non-decreasing.
        eta: noise strength that keeps the shape: psi(x) = x^(1 - eta) phi(x)^eta (0 = ODE).
        s_noise: scales only the injected noise.
        noise_sampler: ``noise_sampler(sigma, sigma_next)`` -> unit Gaussian like x; default:
            per_item_noise_sampler: the counter-based stream (NOISE_STREAM) on x's device, keyed
            by ``extra_args["seed"]`` + batch index (without a seed, torch's RNG picks one).
        alphas: None for VE-scaled latents, else alpha per sigma (flow: 1 - sigma).
        scheme: "corrected" (true third order) or "reference" (the paper's code and ComfyUI's
            er_sde: x0' by a backward difference, so order 3 converges with order 2).
    """
    extra_args = {} if extra_args is None else extra_args
    sigmas_cpu = validate_sigmas(sigmas)
    phi = resolve_noise_scale(noise_scale, eta)
    steps = plan_steps(sigmas_cpu, validate_alphas(alphas, sigmas_cpu), phi, order, scheme, float(s_noise))
    if noise_sampler is None and any(step.noise_std > 0 for step in steps):
        noise_sampler = per_item_noise_sampler(x, extra_args.get("seed"))

    sigma_in = sigmas[:-1, None].expand(-1, x.shape[0]).contiguous()
    sigma_cpu_list = list(sigmas_cpu.unbind())
    history = order - 1  # earlier predictions the order uses; fewer held latents for orders 1, 2
    previous = older = None
    for i in trange(len(steps), disable=disable):
        denoised = model(x, sigma_in[i], **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        step = steps[i]
        if step.returns_prediction:
            x = denoised.to(x.dtype)
        else:
            w_current, w_previous, w_older = step.d_weights
            x = torch.mul(x, step.x_weight)  # a new tensor: the caller's latent is never written
            x.add_(denoised, alpha=w_current)
            if w_previous:
                x.add_(previous, alpha=w_previous)
            if w_older:
                x.add_(older, alpha=w_older)
            if step.noise_std:
                x.add_(noise_sampler(sigma_cpu_list[i], sigma_cpu_list[i + 1]), alpha=step.noise_std)
        if history:
            previous, older = denoised, (previous if history == 2 else None)
        del denoised  # not held through the next model call unless the order needs it
    return x
