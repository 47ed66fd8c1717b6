"""ERSDESolverScheduler: ER-SDE-Solver (Cui et al., arXiv 2309.06169) as a diffusers scheduler.

The math is the library's: `set_timesteps` fixes the schedule, the first `step` of a run plans
every step with `k_diffusion_ext.plan_steps` (CPU, float64, once) and each `step` applies
`k_diffusion_ext.er_sde_update`, the function `sample_er_sde`'s loop calls. What this module adds
is the translation between diffusers' conventions and the solver's variables:

- the latent: the solver works on x = alpha x0 + sigma_t n with lambda = sigma_t / alpha.
  VP models (SD 1.x, 2.x, SDXL): the diffusers latent is already that, with
  alpha = 1 / sqrt(1 + s^2), sigma_t = s alpha for the k-diffusion sigma s (kept in
  `self.sigmas`), so lambda = s. Flow models (SD3, Flux): alpha = 1 - sigma, sigma_t = sigma,
  lambda = sigma / (1 - sigma); sigma = 1 (alpha = 0, pure noise) is planned as 1 - 1e-4, as
  the project's ComfyUI and WebUI adapters do.
- the model output -> the data prediction x0, at the step's (alpha, sigma_t):
    epsilon:          x0 = (x - sigma_t eps) / alpha
    v_prediction:     x0 = alpha x - sigma_t v        (VP: alpha^2 + sigma_t^2 = 1)
    sample:           x0 = output
    flow_prediction:  x0 = x - sigma v                (v = n - x0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import KarrasDiffusionSchedulers, SchedulerMixin
from diffusers.utils import BaseOutput, logging

from . import schedules
from ._solver import solver
from .noise import NOISE_SOURCES, Generators, noise_for_run

logger = logging.get_logger(__name__)

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample", "flow_prediction")
VARIANCE_TYPES = (None, "learned", "learned_range")
# a flow model's sigma = 1 has alpha = 0 (lambda infinite): the plan starts just below, as
# ersde_nodes and scripts/ersde_webui do (their FLOW_SIGMA_CEILING)
FLOW_SIGMA_CEILING = 1.0 - 1e-4
# relative difference of a last step sigma and sigma_min that is float rounding, not a schedule going up
# (float32 carries 6e-8)
SIGMA_ROUNDING = 1e-6


@dataclass
class ERSDESolverSchedulerOutput(BaseOutput):
    """prev_sample: the latent at the next sigma; pred_original_sample: the step's x0 prediction."""
    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor | None = None


class _Run:
    """One sampling run's state: the plan from the run's first step on, and what the next steps need
    (the kept predictions, the noise sampler). The per-step state of the solver lives here and only here."""

    def __init__(self, start: int, sigmas: list[float], plan: list[solver.Step], to_x0: list[tuple[float, float]],
                 noise: solver.noise.NoiseSampler, threshold: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.start, self.sigmas, self.plan, self.to_x0, self.noise = start, sigmas, plan, to_x0, noise
        self.threshold = threshold
        self.keep = solver.plan_history(plan)  # earlier predictions the plan uses, as in sample_er_sde
        self.held: list[torch.Tensor] = []

    def advance(self, i: int, x: torch.Tensor, model_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the latent at the next sigma, the x0 prediction) for plan step i."""
        x_weight, out_weight = self.to_x0[i]
        denoised = torch.mul(model_output, out_weight)
        if x_weight:
            denoised.add_(x, alpha=x_weight)
        if self.threshold is not None:
            denoised = self.threshold(denoised)
        # drawn only where the step injects noise, as sample_er_sde's loop draws
        noise = self.noise(self.sigmas[i], self.sigmas[i + 1]) if self.plan[i].noise_std else None
        x_next, self.held = solver.er_sde_step(x, self.plan, i, denoised, self.held, self.keep, noise)
        return x_next, denoised


class ERSDESolverScheduler(SchedulerMixin, ConfigMixin):
    """ER-SDE-Solver 1/2/3: a multistep solver of the extended reverse-time SDE, one model call a step.

    Config keys that DPMSolverMultistepScheduler has keep its names and meaning
    (num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas, solver_order,
    prediction_type, use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas, use_flow_sigmas,
    flow_shift, use_dynamic_shifting, time_shift_type, final_sigmas_type, lambda_min_clipped,
    variance_type, timestep_spacing, steps_offset, rescale_betas_zero_snr, and thresholding,
    dynamic_thresholding_ratio, sample_max_value: dynamic thresholding of each x0 prediction). Flux's base_shift,
    max_shift, base_image_seq_len, max_image_seq_len and shift_terminal are
    FlowMatchEulerDiscreteScheduler's. The solver's own:

    Args:
        solver_order: 1, 2 or 3 (the order ramps up over the first steps).
        noise_scale: a name from k_diffusion_ext.NOISE_SCALES ("paper_default", "ode",
            "reverse_sde", ...) or an expression in x such as "x * (exp(x**0.3) + 10)" (parsed,
            never evaluated as Python); phi > 0 with phi(x)/x non-decreasing.
        eta: noise strength that keeps the shape, psi = x^(1 - eta) phi^eta (0 = ODE). Not the
            `eta` that pipelines pass to DDIM's step: step() takes none, so a pipeline's eta=0.0
            never turns the SDE into the ODE behind the user's back.
        s_noise: scales only the injected noise.
        scheme: "corrected" (true third order), "predictor_corrector" (a corrector at no extra
            model call: order + 1 on smooth problems; where it loses:
            docs/benchmarks.md#where-it-wins-where-it-loses), "auto" (the order and scheme that
            measured safest for `guidance_scale`, the step count and the noise scale,
            k_diffusion_ext.auto_choice; with guidance_scale None the same rule over guidance 1-10)
            or "reference" (the paper's code).
        guidance_scale: the classifier-free guidance scale the pipeline applies (its
            guidance_scale for SD, SDXL and SD3; 1 for Flux, whose guidance_scale is a
            distilled-guidance input, not CFG). None: unknown. Read by scheme "auto" and by the
            guard against blown-up samples under strong guidance (from 3; see
            k_diffusion_ext.sample_er_sde).
        noise_source: "portable" (the counter-based stream: a seed gives the same image on
            every device and batch size), "brownian" (a Brownian path on that stream: another step
            count keeps the path) or "generator" (torch.randn from the pipeline's generator).
        noise_seed: a fixed seed for the per-step noise; None: the generator's initial_seed(), or
            without a generator a hash of each item's starting latent (see ersde_diffusers.noise).

    Flow models: prediction_type="flow_prediction" (or use_flow_sigmas=True with another prediction
    type) makes alpha = 1 - sigma. `from_config` also takes a FlowMatchEulerDiscreteScheduler config
    (SD3, Flux): it becomes prediction_type="flow_prediction", flow_shift=shift, and
    use_flow_sigmas stays False, so that FluxPipeline hands over its sigmas as it does to
    FlowMatchEulerDiscreteScheduler (it passes none to a scheduler whose use_flow_sigmas is set).
    """

    # EDMEulerScheduler is not one: its models take EDM-preconditioned input and continuous timesteps
    _compatibles = [e.name for e in KarrasDiffusionSchedulers if e.name != "EDMEulerScheduler"] + [
        "FlowMatchEulerDiscreteScheduler"]
    order = 1

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 0.0001,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
        trained_betas: np.ndarray | list[float] | None = None,
        solver_order: int = 3,
        prediction_type: str = "epsilon",
        noise_scale: str = "paper_default",
        eta: float = 1.0,
        s_noise: float = 1.0,
        scheme: str = "corrected",
        guidance_scale: float | None = None,
        noise_source: str = "portable",
        noise_seed: int | None = None,
        use_karras_sigmas: bool = False,
        use_exponential_sigmas: bool = False,
        use_beta_sigmas: bool = False,
        use_flow_sigmas: bool = False,
        flow_shift: float = 1.0,
        use_dynamic_shifting: bool = False,
        time_shift_type: str = "exponential",
        base_shift: float = 0.5,
        max_shift: float = 1.15,
        base_image_seq_len: int = 256,
        max_image_seq_len: int = 4096,
        shift_terminal: float | None = None,
        final_sigmas_type: str = "zero",
        lambda_min_clipped: float = -float("inf"),
        variance_type: str | None = None,
        timestep_spacing: str = "linspace",
        steps_offset: int = 0,
        rescale_betas_zero_snr: bool = False,
        thresholding: bool = False,
        dynamic_thresholding_ratio: float = 0.995,
        sample_max_value: float = 1.0,
    ):
        _check_config(self.config)
        self.phi = solver.resolve_noise_scale(noise_scale, float(eta))
        self.is_flow = bool(use_flow_sigmas or prediction_type == "flow_prediction")
        if self.is_flow:
            # the training schedule, as FlowMatchEulerDiscreteScheduler keeps it: t / T, statically shifted
            train = np.arange(num_train_timesteps, 0, -1, dtype=np.float64) / num_train_timesteps
            self.train_sigmas = train if use_dynamic_shifting else schedules.flow_shift(train, flow_shift)
            lambdas = np.minimum(self.train_sigmas, FLOW_SIGMA_CEILING)
            lambdas = lambdas / (1 - lambdas)
            timesteps = self.train_sigmas * num_train_timesteps
        else:
            # betas, alphas, alphas_cumprod: float32 as every beta-based diffusers scheduler exposes them;
            # the sigmas come from the float64 cumulative product (the same to float32 rounding)
            self.betas = schedules.betas(num_train_timesteps, beta_start, beta_end, beta_schedule, trained_betas)
            self.alphas = 1.0 - self.betas
            cumprod = schedules.alphas_cumprod(self.betas, rescale_betas_zero_snr)
            self.alphas_cumprod = cumprod.to(torch.float32)
            self.train_sigmas = schedules.vp_sigmas(cumprod)  # ascending with t
            lambdas = self.train_sigmas
            timesteps = np.arange(num_train_timesteps - 1, -1, -1)
        # a noise scale that breaks phi > 0 or phi(x)/x non-decreasing anywhere a schedule can reach fails here
        solver.noise_scales.check_noise_scale(self.phi, torch.from_numpy(np.unique(lambdas)))
        self.init_noise_sigma = 1.0  # both latents start as unit noise (VP at alpha ~ 0, flow at sigma = 1)
        self.timesteps = torch.from_numpy(timesteps.copy()).to(torch.float32 if self.is_flow else torch.int64)
        self.sigmas = torch.from_numpy(np.sort(self.train_sigmas)[::-1].copy()).to(torch.float32)
        self.num_inference_steps: int | None = None
        self._step_index: int | None = None
        self._begin_index: int | None = None
        self._run: _Run | None = None

    # --- config from other schedulers -------------------------------------------------------
    @classmethod
    def from_config(cls, config: Any = None, return_unused_kwargs: bool = False, **kwargs: Any):
        """As ConfigMixin.from_config, and a FlowMatchEulerDiscreteScheduler config (SD3, Flux) is read
        as the flow model it describes, so that the pipeline swap works for flow pipelines too."""
        if isinstance(config, dict):
            config = flow_match_config(config)
            _refuse_or_warn(config, kwargs)
        return super().from_config(config, return_unused_kwargs=return_unused_kwargs, **kwargs)

    # --- indices ---------------------------------------------------------------------------
    @property
    def step_index(self) -> int | None:
        """The index of the next step; +1 after each step()."""
        return self._step_index

    @property
    def begin_index(self) -> int | None:
        """The first step's index, set by img2img / inpaint pipelines with set_begin_index."""
        return self._begin_index

    def set_begin_index(self, begin_index: int = 0) -> None:
        self._begin_index = begin_index

    def index_for_timestep(self, timestep: float | torch.Tensor, schedule_timesteps: torch.Tensor | None = None) -> int:
        """The step index of a timestep; where it occurs twice the second (a run started mid-schedule
        must not skip a sigma), where it does not occur the last."""
        schedule = self.timesteps if schedule_timesteps is None else schedule_timesteps
        if isinstance(timestep, torch.Tensor):
            timestep = timestep.to(schedule.device)
        hits = (schedule == timestep).nonzero()
        if len(hits) == 0:
            return len(schedule) - 1
        return int(hits[1 if len(hits) > 1 else 0])

    # --- schedule --------------------------------------------------------------------------
    def set_timesteps(self, num_inference_steps: int | None = None, device: str | torch.device | None = None,
                      sigmas: Sequence[float] | np.ndarray | None = None, mu: float | None = None,
                      timesteps: Sequence[float] | np.ndarray | None = None) -> None:
        """Fix the schedule: `num_inference_steps`, or custom `sigmas` (one a step, no terminal 0: flow sigmas as
        FluxPipeline passes them, shifted by flow_shift, or by mu with use_dynamic_shifting; k-diffusion sigmas for
        VP models), or custom `timesteps`, or both (as CogView4 passes them to a FlowMatch scheduler: the sigmas
        make the schedule, the timesteps are what the model sees). `mu` is used only with use_dynamic_shifting
        (Flux passes it always). Afterwards self.sigmas[i] is the sigma of step i, self.sigmas[-1] the final one."""
        if num_inference_steps is None and sigmas is None and timesteps is None:
            raise ValueError("set_timesteps needs num_inference_steps, sigmas or timesteps")
        sigmas = _custom_values("sigmas", sigmas, num_inference_steps)
        timesteps = _custom_values("timesteps", timesteps, num_inference_steps)
        if sigmas is not None and timesteps is not None and len(sigmas) != len(timesteps):
            raise ValueError(f"got {len(sigmas)} custom sigmas and {len(timesteps)} custom timesteps: "
                             "pass one of each a step")
        if self.is_flow:
            step_sigmas, step_timesteps = self._flow_schedule(num_inference_steps, sigmas, timesteps, mu)
        else:
            step_sigmas, step_timesteps = self._vp_schedule(num_inference_steps, sigmas, timesteps)
        if step_sigmas[-1] == 0.0 and sigmas is not None:
            final_sigmas = step_sigmas  # custom sigmas that already end at 0: no second zero
            step_timesteps = step_timesteps[:-1]
        else:
            final_sigmas = np.append(step_sigmas, self._final_sigma(float(step_sigmas[-1])))
        solver.validate_sigmas(torch.from_numpy(final_sigmas))  # finite, >= 0, non-increasing: a clear error now
        self.sigmas = torch.from_numpy(final_sigmas).to(torch.float32)
        dtype = torch.float32 if self.is_flow else torch.int64
        self.timesteps = torch.from_numpy(np.asarray(step_timesteps)).to(device=device, dtype=dtype)
        self.num_inference_steps = len(self.timesteps)
        self._step_index = None
        self._begin_index = None
        self._run = None

    def _final_sigma(self, last: float) -> float:
        """The sigma after the last step: 0, or (final_sigmas_type "sigma_min") the training schedule's smallest.

        A last step sigma that is sigma_min up to float rounding (Karras' (sigma_min^(1/rho))^rho one ulp below,
        custom sigmas in float32) makes the final step one of zero length, as DPMSolverMultistepScheduler's
        is: the latent is left as it is, never moved up to a larger sigma."""
        if self.config.final_sigmas_type == "zero":
            return 0.0
        final = float(np.min(self.train_sigmas))
        if final <= last:
            return final
        if final <= last * (1.0 + SIGMA_ROUNDING):
            return last
        raise ValueError(f"final_sigmas_type 'sigma_min' ends at the smallest training sigma {final:.6g}, above the "
                         f"last step's sigma {last:.6g}: end the custom sigmas at or above it, or use "
                         "final_sigmas_type 'zero'")

    def _respacing(self) -> str | None:
        for kind in ("karras", "exponential", "beta"):
            if self.config[f"use_{kind}_sigmas"]:
                return kind
        return None

    def _vp_timesteps(self, step_sigmas: np.ndarray) -> np.ndarray:
        """The integer training timesteps of sigmas, as DPMSolverMultistepScheduler takes them: the nearest for
        Karras sigmas (except with squaredcos_cap_v2) and plain schedules, truncated for exponential, beta and
        cosine-Karras sigmas (DPM's int64 cast)."""
        t = schedules.sigma_to_timestep(step_sigmas, self.train_sigmas)
        kind = self._respacing()
        if kind in ("exponential", "beta") or (kind == "karras" and self.config.beta_schedule == "squaredcos_cap_v2"):
            return np.trunc(t)
        return t.round()

    def _vp_schedule(self, n: int | None, sigmas: np.ndarray | None, timesteps: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray]:
        cfg, train = self.config, self.train_sigmas
        if sigmas is not None:  # k-diffusion sigmas, one a step
            step_sigmas = sigmas
        elif timesteps is not None:
            step_sigmas = np.interp(timesteps, np.arange(len(train)), train)
        else:
            last = schedules.last_unclipped_timestep(train, cfg.lambda_min_clipped)
            spaced = schedules.spaced_timesteps(n, cfg.num_train_timesteps, cfg.timestep_spacing, cfg.steps_offset,
                                                last)
            step_sigmas = np.interp(spaced, np.arange(len(train)), train)
            kind = self._respacing()
            if kind is None:
                return step_sigmas, spaced
            step_sigmas = schedules.respaced(step_sigmas, kind, float(train[0]), float(train[-1]))
        if timesteps is not None:  # as DPMSolverMultistepScheduler casts custom timesteps: truncated
            return step_sigmas, np.trunc(timesteps)
        return step_sigmas, self._vp_timesteps(step_sigmas)

    def _flow_schedule(self, n: int | None, sigmas: np.ndarray | None, timesteps: np.ndarray | None,
                       mu: float | None) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        total = cfg.num_train_timesteps
        if sigmas is None and timesteps is not None:  # the model's timesteps as given; sigma = t / T, not shifted
            return timesteps / total, timesteps
        if sigmas is None:
            # FlowMatchEulerDiscreteScheduler's grid: from 1 to the training schedule's smallest sigma
            sigmas = np.linspace(1.0, float(np.min(self.train_sigmas)), n)
        if cfg.use_dynamic_shifting:
            if mu is None:
                raise ValueError("use_dynamic_shifting needs mu: pass set_timesteps(..., mu=...) as FluxPipeline does")
            step_sigmas = schedules.dynamic_shift(sigmas, float(mu), cfg.time_shift_type)
        else:
            step_sigmas = schedules.flow_shift(sigmas, cfg.flow_shift)
        if cfg.shift_terminal:
            step_sigmas = schedules.stretch_to_terminal(step_sigmas, cfg.shift_terminal)
        kind = self._respacing()
        if kind is not None:
            step_sigmas = schedules.respaced(step_sigmas, kind, float(step_sigmas.min()), float(step_sigmas.max()))
        # both given (CogView4): the timesteps are the model's, as FlowMatchEulerDiscreteScheduler keeps them
        return step_sigmas, (timesteps if timesteps is not None else step_sigmas * total)

    # --- the solver's variables ------------------------------------------------------------
    def _start_run(self, sample: torch.Tensor, generator: Generators) -> _Run:
        start = self._step_index
        # the sigmas a k-diffusion host hands sample_er_sde: flow's sigma = 1 (alpha = 0) just below 1
        sigmas = self.sigmas[start:].double()
        sigmas = sigmas.clamp(max=FLOW_SIGMA_CEILING) if self.is_flow else sigmas
        alpha, sigma_t = latent_coefficients(sigmas, self.is_flow)
        cfg = self.config
        sigma_t = solver.validate_sigmas(sigma_t)
        plan = solver.plan_steps(sigma_t, solver.validate_alphas(alpha, sigma_t), self.phi, cfg.solver_order,
                                 cfg.scheme, float(cfg.s_noise), cfg.guidance_scale)
        to_x0 = [_x0_weights(cfg.prediction_type, a, s) for a, s in zip(alpha.tolist(), sigma_t.tolist())]
        # the noise sampler is called with those sigmas, as sample_er_sde calls it in ComfyUI
        noise = noise_for_run(cfg.noise_source, sample, cfg.noise_seed, generator, sigmas)
        threshold = partial(dynamic_threshold, ratio=float(cfg.dynamic_thresholding_ratio),
                            max_value=float(cfg.sample_max_value)) if cfg.thresholding else None
        return _Run(start, sigmas.tolist(), plan, to_x0, noise, threshold)

    # --- the diffusers interface -----------------------------------------------------------
    def scale_model_input(self, sample: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The model takes the latent as it is (VP and flow latents both: init_noise_sigma = 1)."""
        return sample

    def step(self, model_output: torch.Tensor, timestep: float | torch.Tensor, sample: torch.Tensor,
             generator: Generators = None, return_dict: bool = True) -> ERSDESolverSchedulerOutput | tuple:
        """One ER-SDE step from the current sigma to the next.

        Args:
            model_output: the model's output at `timestep` (its prediction_type).
            timestep: the current timestep (used to find the step when no begin_index is set).
            sample: the current latent.
            generator: the pipeline's generator(s): the noise seed (noise_source "portable") or the
                noise source itself ("generator"). Read on a run's first step.
        Returns:
            prev_sample (the latent at the next sigma, sample's dtype) and pred_original_sample (x0).
        """
        if self.num_inference_steps is None:
            raise ValueError("call set_timesteps before step()")
        if self._step_index is None:
            self._step_index = self._begin_index if self._begin_index is not None else self.index_for_timestep(timestep)
        if self._step_index >= self.num_inference_steps:
            raise ValueError(f"step() called {self._step_index + 1} times for a schedule of {self.num_inference_steps} "
                             "steps: call set_timesteps again for a new run")
        if self._run is None:
            self._run = self._start_run(sample, generator)
        # float16 / bfloat16 latents: the update in float32 (float64 stays float64)
        work = torch.float64 if sample.dtype == torch.float64 else torch.float32
        output = model_output
        if self.config.variance_type in ("learned", "learned_range") and output.shape[1] == 2 * sample.shape[1]:
            output = output[:, :sample.shape[1]]  # the predicted variance is not used
        x_next, denoised = self._run.advance(self._step_index - self._run.start, _as(sample, work), _as(output, work))
        self._step_index += 1
        prev_sample, x0 = _as(x_next, sample.dtype), _as(denoised, sample.dtype)
        if not return_dict:
            return prev_sample, x0
        return ERSDESolverSchedulerOutput(prev_sample=prev_sample, pred_original_sample=x0)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """The forward process at the timesteps' sigmas: alpha x0 + sigma_t n (VP), (1 - sigma) x0 + sigma n (flow).
        Before a run (img2img) at begin_index, during one (inpaint) at the current step_index."""
        timesteps = torch.as_tensor(timesteps).reshape(-1)
        if self._begin_index is None:
            indices = [self.index_for_timestep(t) for t in timesteps]
        else:
            indices = [self._step_index if self._step_index is not None else self._begin_index] * len(timesteps)
        alpha, sigma_t = latent_coefficients(self.sigmas.double()[indices], self.is_flow)
        shape = (-1,) + (1,) * (original_samples.ndim - 1)
        alpha = alpha.to(original_samples.device, original_samples.dtype).view(shape)
        sigma_t = sigma_t.to(original_samples.device, original_samples.dtype).view(shape)
        return alpha * original_samples + sigma_t * noise.to(original_samples.dtype)

    def scale_noise(self, sample: torch.Tensor, timestep: float | torch.Tensor,
                    noise: torch.Tensor | None = None) -> torch.Tensor:
        """FlowMatchEulerDiscreteScheduler's name for add_noise (flow img2img and inpaint pipelines call it)."""
        if noise is None:
            raise ValueError("scale_noise needs the noise to add")
        return self.add_noise(sample, noise, torch.as_tensor(timestep))

    def __len__(self) -> int:
        return self.config.num_train_timesteps


def latent_coefficients(sigmas: torch.Tensor, flow: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(alpha, sigma_t) with latent = alpha x0 + sigma_t noise at the scheduler's sigmas: flow (1 - sigma, sigma);
    VP, from the k-diffusion sigma s, (1 / sqrt(1 + s^2), s / sqrt(1 + s^2))."""
    if flow:
        return 1.0 - sigmas, sigmas
    alpha = 1.0 / torch.sqrt(1.0 + sigmas * sigmas)
    return alpha, sigmas * alpha


def dynamic_threshold(x0: torch.Tensor, ratio: float, max_value: float) -> torch.Tensor:
    """Dynamic thresholding of the x0 prediction (Saharia et al. 2022, Imagen, arXiv 2205.11487), as diffusers'
    schedulers apply it: per batch item s = the `ratio` quantile of |x0|, clamped to [1, max_value]; x0 is
    clipped to [-s, s] and divided by s (s = 1: plain clipping to [-1, 1])."""
    flat = x0.reshape(x0.shape[0], -1)
    work = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
    s = torch.quantile(work.abs(), ratio, dim=1).clamp(min=1.0, max=max_value).unsqueeze(1)
    return (torch.maximum(torch.minimum(work, s), -s) / s).to(x0.dtype).reshape(x0.shape)


def _as(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """tensor in dtype; no call at all where it is already (an aten::to a step each, on the host, otherwise)."""
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def _x0_weights(prediction_type: str, alpha: float, sigma_t: float) -> tuple[float, float]:
    """(a, b) with x0 = a x + b output, at a step's alpha and sigma_t (see the module docstring)."""
    if prediction_type == "epsilon":
        return 1.0 / alpha, -sigma_t / alpha
    if prediction_type == "v_prediction":
        return alpha, -sigma_t
    if prediction_type == "sample":
        return 0.0, 1.0
    return 1.0, -sigma_t  # flow_prediction: x - sigma v


def flow_match_config(config: dict) -> dict:
    """A FlowMatchEulerDiscreteScheduler config read as this scheduler's; any other config unchanged."""
    # in memory a config has no _class_name (only a saved one has): FlowMatch configs are the ones
    # with a `shift` and no beta schedule
    named = str(config.get("_class_name", "")).startswith("FlowMatch")
    if "use_flow_sigmas" in config or not (named or ("shift" in config and "beta_start" not in config)):
        return config
    if config.get("invert_sigmas"):
        raise ValueError("invert_sigmas (Mochi's inverted schedule) is not supported by ERSDESolverScheduler")
    # `shift` stays (diffusers keeps a compatible class's keys in the config), so that from_config back to
    # FlowMatchEulerDiscreteScheduler gives its shift back
    out = dict(config)
    out.update(prediction_type="flow_prediction", flow_shift=float(config.get("shift", 1.0)))
    return out


def _custom_values(name: str, values: Any, num_inference_steps: int | None) -> np.ndarray | None:
    """Custom sigmas or timesteps as a float64 array, one a step, checked."""
    if values is None:
        return None
    values = torch.as_tensor(values, dtype=torch.float64).detach().cpu().numpy().reshape(-1)
    if num_inference_steps is not None and len(values) != num_inference_steps:
        raise ValueError(f"num_inference_steps is {num_inference_steps}, but {len(values)} custom {name} were given")
    if len(values) < 1 or not np.isfinite(values).all():
        raise ValueError(f"custom {name} must be a non-empty list of finite numbers")
    return values


# settings of compatible schedulers that this one does not honour, the value that changes nothing, and what
# the user gets instead; diffusers keeps a compatible class's keys in the config (so that from_config back
# gives them back), so each is named here rather than dropped without a word
IGNORED_SETTINGS = {
    "clip_sample": (False, "the x0 prediction is not clipped (use thresholding=True for dynamic thresholding)"),
    "use_lu_lambdas": (False, "use use_exponential_sigmas=True for steps uniform in log-SNR"),
    "sigma_min": (None, "Karras, exponential and beta sigmas span the training schedule's sigma range"),
    "sigma_max": (None, "Karras, exponential and beta sigmas span the training schedule's sigma range"),
    "interpolation_type": ("linear", "sigmas are interpolated linearly in log sigma between training timesteps"),
}
# settings under which the model would see other timesteps than it was trained with: refused
REFUSED_SETTINGS = {
    "timestep_type": ("discrete", "continuous timesteps (0.25 log sigma) are not supported: the model would be "
                                  "given integer training timesteps"),
}


def _refuse_or_warn(config: dict, kwargs: dict) -> None:
    """A compatible scheduler's setting this scheduler does not honour: an error where the images would be wrong,
    a warning naming it otherwise; never kept silently."""
    merged = {**config, **kwargs}
    if "sigma_data" in merged and "beta_start" not in merged:
        raise ValueError("ERSDESolverScheduler does not support EDM-parametrised models (an EDM scheduler's config, "
                         "with sigma_data): their models take preconditioned input and continuous timesteps")
    for key, (neutral, why) in REFUSED_SETTINGS.items():
        if merged.get(key, neutral) != neutral:
            raise ValueError(f"ERSDESolverScheduler does not support {key}={merged[key]!r}: {why}")
    for key, (neutral, why) in IGNORED_SETTINGS.items():
        if merged.get(key, neutral) != neutral:
            logger.warning(f"ERSDESolverScheduler ignores {key}={merged[key]!r} of the config it was made from: {why}")


def _one_of(name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; known: {', '.join(repr(a) for a in allowed)}")


def _check_config(cfg: Any) -> None:
    """Bad config is a ValueError at construction that names the key."""
    if cfg.solver_order not in (1, 2, 3) or isinstance(cfg.solver_order, bool):
        raise ValueError(f"solver_order must be 1, 2 or 3, got {cfg.solver_order!r}")
    _one_of("prediction_type", cfg.prediction_type, PREDICTION_TYPES)
    _one_of("scheme", cfg.scheme, solver.SCHEMES)
    _one_of("noise_source", cfg.noise_source, NOISE_SOURCES)
    _one_of("beta_schedule", cfg.beta_schedule, schedules.BETA_SCHEDULES)
    _one_of("timestep_spacing", cfg.timestep_spacing, schedules.TIMESTEP_SPACINGS)
    _one_of("final_sigmas_type", cfg.final_sigmas_type, schedules.FINAL_SIGMAS_TYPES)
    _one_of("time_shift_type", cfg.time_shift_type, schedules.TIME_SHIFT_TYPES)
    _one_of("variance_type", cfg.variance_type, VARIANCE_TYPES)
    if not isinstance(cfg.noise_scale, str):
        raise ValueError(f"noise_scale must be a name or an expression string (the config is JSON), "
                         f"got {type(cfg.noise_scale).__name__}")
    for key in ("eta", "s_noise"):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")
    solver.validate_guidance_scale(cfg.guidance_scale)
    if not isinstance(cfg.thresholding, bool):
        raise ValueError(f"thresholding must be true or false, got {cfg.thresholding!r}")
    ratio, max_value = cfg.dynamic_thresholding_ratio, cfg.sample_max_value
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
        raise ValueError(f"dynamic_thresholding_ratio must be a number in [0, 1], got {ratio!r}")
    if isinstance(max_value, bool) or not isinstance(max_value, (int, float)) or not 0 < max_value < math.inf:
        raise ValueError(f"sample_max_value must be a finite number > 0, got {max_value!r}")
    if cfg.noise_seed is not None and (isinstance(cfg.noise_seed, bool) or not isinstance(cfg.noise_seed, int)):
        raise ValueError(f"noise_seed must be an integer or None, got {cfg.noise_seed!r}")
    if sum(bool(cfg[f"use_{k}_sigmas"]) for k in ("karras", "exponential", "beta")) > 1:
        raise ValueError("use at most one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas")
    if cfg.prediction_type == "v_prediction" and cfg.use_flow_sigmas:
        raise ValueError("prediction_type 'v_prediction' is defined for VP schedules, not with use_flow_sigmas")
    if not (isinstance(cfg.num_train_timesteps, int) and cfg.num_train_timesteps >= 2):
        raise ValueError(f"num_train_timesteps must be an integer >= 2, got {cfg.num_train_timesteps!r}")
    if not (isinstance(cfg.flow_shift, (int, float)) and math.isfinite(cfg.flow_shift) and cfg.flow_shift > 0):
        raise ValueError(f"flow_shift must be a number > 0, got {cfg.flow_shift!r}")
