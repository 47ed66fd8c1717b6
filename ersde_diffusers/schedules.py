"""Noise schedules for the diffusers scheduler: flat functions of plain numbers and numpy arrays.

Two families, as in diffusers:
- VP ("variance preserving", SD 1.x / 2.x / SDXL): a beta schedule over num_train_timesteps gives
  alphas_cumprod; the latent is x = alpha_vp x0 + sigma_vp n with alpha_vp = sqrt(alphas_cumprod),
  sigma_vp = sqrt(1 - alphas_cumprod). The schedule is kept, as in DPMSolverMultistepScheduler,
  as k-diffusion sigmas s = sigma_vp / alpha_vp, which is the solver's lambda.
- flow (SD3, Flux): x = (1 - sigma) x0 + sigma n; the schedule is sigma itself, from 1 (pure
  noise) down, shifted toward the noise end by flow_shift or by mu (use_dynamic_shifting).

The timestep a model sees: an integer training timestep for VP models (the nearest in log
sigma, as DPMSolverMultistepScheduler rounds it), sigma * num_train_timesteps for flow models.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
TIMESTEP_SPACINGS = ("linspace", "leading", "trailing")
FINAL_SIGMAS_TYPES = ("zero", "sigma_min")
TIME_SHIFT_TYPES = ("exponential", "linear")
# rescale_betas_zero_snr: the last alphas_cumprod is exactly 0 (infinite sigma); diffusers puts the
# smallest float16 subnormal there, so the first sigma is large (4096) but finite
ZERO_SNR_ALPHAS_CUMPROD = 2.0 ** -24


def betas(num_train_timesteps: int, beta_start: float, beta_end: float, beta_schedule: str,
          trained_betas: Sequence[float] | None = None) -> torch.Tensor:
    """The training betas. squaredcos_cap_v2 is the cosine alpha-bar of Nichol & Dhariwal (2021).

    float32, as diffusers computes them: the same training schedule to the bit, so the same
    timesteps and sigmas as diffusers' own schedulers for one config."""
    if trained_betas is not None:
        return torch.as_tensor(np.asarray(trained_betas, dtype=np.float32))
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    if beta_schedule == "scaled_linear":  # the latent-diffusion schedule: linear in sqrt(beta)
        return torch.linspace(beta_start ** 0.5, beta_end ** 0.5, num_train_timesteps, dtype=torch.float32) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        def alpha_bar(t: float) -> float:
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        n = num_train_timesteps
        return torch.tensor([min(1 - alpha_bar((i + 1) / n) / alpha_bar(i / n), 0.999) for i in range(n)],
                            dtype=torch.float32)
    raise ValueError(f"unknown beta_schedule {beta_schedule!r}; known: {', '.join(BETA_SCHEDULES)}")


def alphas_cumprod(betas_: torch.Tensor, rescale_zero_snr: bool = False) -> torch.Tensor:
    """prod(1 - beta); with rescale_zero_snr the schedule of Lin et al. (arXiv 2305.08891, Alg. 1):
    sqrt(alphas_cumprod) shifted and scaled so that the last timestep has SNR exactly 0."""
    cumprod = torch.cumprod(1.0 - betas_, dim=0)
    if not rescale_zero_snr:
        return cumprod.double()
    root = cumprod.double().sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    cumprod = root ** 2
    cumprod[-1] = ZERO_SNR_ALPHAS_CUMPROD
    return cumprod


def vp_sigmas(cumprod: torch.Tensor) -> np.ndarray:
    """k-diffusion sigma of every training timestep: sqrt((1 - a) / a), increasing with t."""
    a = cumprod.numpy()
    return np.sqrt((1.0 - a) / a)


def spaced_timesteps(num_inference_steps: int, num_train_timesteps: int, spacing: str, steps_offset: int = 0,
                     last_timestep: int | None = None) -> np.ndarray:
    """Integer training timesteps, descending, the spacings of Lin et al. (arXiv 2305.08891, Table 2)
    as diffusers' DPMSolverMultistepScheduler takes them (so both pick the same timesteps)."""
    last = num_train_timesteps if last_timestep is None else last_timestep
    n = num_inference_steps
    if spacing == "linspace":
        # n + 1 points from 0 to last - 1, the lowest (0) dropped
        return np.linspace(0, last - 1, n + 1).round()[::-1][:-1].astype(np.int64)
    if spacing == "leading":
        ratio = last // (n + 1)
        return (np.arange(0, n + 1) * ratio).round()[::-1][:-1].astype(np.int64) + steps_offset
    if spacing == "trailing":
        return np.arange(last, 0, -num_train_timesteps / n).round().astype(np.int64) - 1
    raise ValueError(f"unknown timestep_spacing {spacing!r}; known: {', '.join(TIMESTEP_SPACINGS)}")


def last_unclipped_timestep(train_sigmas: np.ndarray, lambda_min_clipped: float) -> int:
    """How many training timesteps keep log-SNR = -log(sigma) >= lambda_min_clipped (the noisiest are cut;
    the cosine schedule needs it)."""
    log_snr = -np.log(train_sigmas)  # decreasing in t
    return int(len(train_sigmas) - np.sum(log_snr < lambda_min_clipped))


def sigma_to_timestep(sigmas: np.ndarray, train_sigmas: np.ndarray) -> np.ndarray:
    """The (fractional) training timestep of each sigma, linear in log sigma between training timesteps."""
    with np.errstate(divide="ignore"):
        return np.interp(np.log(np.maximum(sigmas, 1e-30)), np.log(train_sigmas), np.arange(len(train_sigmas)))


def karras(sigma_min: float, sigma_max: float, n: int, rho: float = 7.0) -> np.ndarray:
    """Karras et al. (2022): uniform in sigma^(1/rho), from sigma_max down to sigma_min."""
    ramp = np.linspace(0.0, 1.0, n)
    hi, lo = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def exponential(sigma_min: float, sigma_max: float, n: int) -> np.ndarray:
    """Uniform in log sigma."""
    return np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), n))


def beta_spaced(sigma_min: float, sigma_max: float, n: int, a: float = 0.6, b: float = 0.6) -> np.ndarray:
    """Lee et al., "Beta Sampling is All You Need" (arXiv 2407.12173): sigmas at the quantiles of Beta(a, b)."""
    try:
        from scipy.stats import beta as beta_distribution
    except ImportError as exc:  # pragma: no cover - scipy comes with the test extra
        raise ImportError("use_beta_sigmas needs scipy: pip install scipy") from exc
    quantiles = beta_distribution.ppf(1.0 - np.linspace(0.0, 1.0, n), a, b)
    return sigma_min + quantiles * (sigma_max - sigma_min)


def respaced(sigmas: np.ndarray, kind: str | None, sigma_min: float, sigma_max: float) -> np.ndarray:
    """sigmas re-spaced between sigma_min and sigma_max as kind says (None: unchanged)."""
    if kind is None:
        return sigmas
    return {"karras": karras, "exponential": exponential, "beta": beta_spaced}[kind](sigma_min, sigma_max, len(sigmas))


def flow_shift(sigmas: np.ndarray, shift: float) -> np.ndarray:
    """SD3's static shift: t -> shift t / (1 + (shift - 1) t); shift = 1 is the identity."""
    return shift * sigmas / (1.0 + (shift - 1.0) * sigmas)


def dynamic_shift(sigmas: np.ndarray, mu: float, kind: str = "exponential") -> np.ndarray:
    """Flux's resolution-dependent shift: t -> m / (m + (1/t - 1)), m = exp(mu) (or mu for "linear")."""
    m = math.exp(mu) if kind == "exponential" else mu
    with np.errstate(divide="ignore"):
        return m / (m + (1.0 / sigmas - 1.0))


def stretch_to_terminal(sigmas: np.ndarray, terminal: float) -> np.ndarray:
    """Scale 1 - sigma so that the last sigma is `terminal` (LTX-Video's shift_terminal)."""
    scale = (1.0 - sigmas[-1]) / (1.0 - terminal)
    return 1.0 - (1.0 - sigmas) / scale
