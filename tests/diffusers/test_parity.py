"""The diffusers scheduler runs the library's solver: in a plain denoising loop it equals
sample_er_sde with the same model and noise, for VP (epsilon, v, sample) and flow models, and
its order 3 converges with order 3.

The model is an exact Gaussian-mixture denoiser (k_diffusion_ext.analytic), written once in VE
form, D(y, lambda), and seen by each side in its own variables: sample_er_sde gets the VE form
for VP models (the k-diffusion way) and (sigma, alpha = 1 - sigma) for flow models; the
scheduler gets the diffusers latent and the model output in the prediction type.
"""
import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from ersde_diffusers import ERSDESolverScheduler  # noqa: E402
from ersde_diffusers.scheduler import FLOW_SIGMA_CEILING  # noqa: E402
from k_diffusion_ext import brownian_noise_sampler, sample_er_sde, schedule_range  # noqa: E402
from k_diffusion_ext.analytic import mixture_denoiser, ring_mixture  # noqa: E402

SHAPE = (3, 4, 4, 4)  # a batch of 3 small latents
DIM = 64
SD15 = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)

_means = torch.cat([ring_mixture(4, 1.5), torch.zeros(4, DIM - 2, dtype=torch.float64)], dim=1)
_ve_denoiser = mixture_denoiser(_means, 0.5)


def ve_x0(y: torch.Tensor, lam: float) -> torch.Tensor:
    """E[x0 | x0 + lam n = y] of the mixture, for latents shaped SHAPE."""
    sigma = torch.full((y.shape[0],), lam, dtype=torch.float64)
    return _ve_denoiser(y.reshape(y.shape[0], -1), sigma).reshape(y.shape)


def model_output(prediction_type: str, x: torch.Tensor, sigma: float, flow: bool) -> torch.Tensor:
    """What a perfect model of the prediction type returns for the diffusers latent x at the step's sigma
    (k-diffusion sigma for VP, flow sigma for flow)."""
    if flow:
        sigma = min(sigma, FLOW_SIGMA_CEILING)  # the model reads sigma = 1 as the solver plans it
        alpha, sigma_t = 1.0 - sigma, sigma
    else:
        alpha = 1.0 / (1.0 + sigma * sigma) ** 0.5
        sigma_t = sigma * alpha
    x0 = ve_x0(x / alpha, sigma_t / alpha)
    eps = (x - alpha * x0) / sigma_t
    return {"epsilon": eps, "v_prediction": alpha * eps - sigma_t * x0, "sample": x0,
            "flow_prediction": eps - x0}[prediction_type]


def scheduler_for(prediction_type: str, **config) -> ERSDESolverScheduler:
    if prediction_type == "flow_prediction":
        from diffusers import FlowMatchEulerDiscreteScheduler
        return ERSDESolverScheduler.from_config(FlowMatchEulerDiscreteScheduler(shift=3.0).config, **config)
    return ERSDESolverScheduler(**SD15, prediction_type=prediction_type, use_karras_sigmas=True, **config)


def run_scheduler(scheduler: ERSDESolverScheduler, x: torch.Tensor, steps: int | None = None,
                  **step_kwargs) -> torch.Tensor:
    """The plain denoising loop of a pipeline; `steps`: set_timesteps(steps) first."""
    flow = scheduler.is_flow
    if steps is not None:
        scheduler.set_timesteps(steps)
    for i, t in enumerate(scheduler.timesteps):
        out = model_output(scheduler.config.prediction_type, x, float(scheduler.sigmas[i]), flow)
        x = scheduler.step(out, t, x, **step_kwargs).prev_sample
    assert scheduler.step_index == len(scheduler.timesteps)
    return x


def run_library(scheduler: ERSDESolverScheduler, x: torch.Tensor, seed: int, brownian: bool = False,
                **solver_kwargs) -> torch.Tensor:
    """sample_er_sde on the scheduler's schedule as a k-diffusion host runs it: VP latents in VE form
    (x / alpha, lambda = sigma), flow latents with alphas = 1 - sigma and sigma = 1 nudged below 1."""
    sigmas = scheduler.sigmas.double()
    if scheduler.is_flow:
        sigmas = sigmas.clamp(max=FLOW_SIGMA_CEILING)
        solver_kwargs["alphas"] = 1.0 - sigmas
        model = lambda y, s, **_: ve_x0(y / (1 - s[0].item()), s[0].item() / (1 - s[0].item()))  # noqa: E731
    else:
        model = lambda y, s, **_: ve_x0(y, s[0].item())  # noqa: E731
        x = x * (1.0 + sigmas[0] ** 2) ** 0.5
    if brownian:
        solver_kwargs["noise_sampler"] = brownian_noise_sampler(x, *schedule_range(sigmas), seed=seed)
    return sample_er_sde(model, x, sigmas, extra_args={"seed": seed}, disable=True, **solver_kwargs)


CASES = [("epsilon", o, ns) for o in (1, 2, 3) for ns in ("ode", "paper_default")]
CASES += [("v_prediction", o, ns) for o in (1, 2, 3) for ns in ("ode", "paper_default")]
CASES += [("flow_prediction", o, ns) for o in (1, 2, 3) for ns in ("ode", "paper_default")]
CASES += [("sample", 3, "reverse_sde"), ("epsilon", 3, "x * (exp(x**0.3) + 10)")]
# the predictor-corrector scheme: its corrector acts on the latent the pipeline hands back
PC_CASES = [(p, o, ns) for p in ("epsilon", "v_prediction", "flow_prediction") for o in (1, 3)
            for ns in ("ode", "paper_default")]


@pytest.mark.parametrize("prediction_type,order,noise_scale", CASES)
def test_scheduler_loop_equals_sample_er_sde(prediction_type, order, noise_scale):
    seed = 1234
    scheduler = scheduler_for(prediction_type, solver_order=order, noise_scale=noise_scale, noise_seed=seed)
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = run_scheduler(scheduler, x, 12)
    theirs = run_library(scheduler, x, seed, order=order, noise_scale=noise_scale)
    assert torch.isfinite(ours).all()
    error = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    assert error < 1e-12, f"relative max error {error:.3g}"


@pytest.mark.parametrize("prediction_type,order,noise_scale", PC_CASES)
def test_predictor_corrector_scheduler_equals_sample_er_sde(prediction_type, order, noise_scale):
    seed = 4321
    config = dict(solver_order=order, noise_scale=noise_scale, noise_seed=seed, scheme="predictor_corrector")
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    scheduler = scheduler_for(prediction_type, **config)
    ours = run_scheduler(scheduler, x, 12)
    theirs = run_library(scheduler, x, seed, order=order, noise_scale=noise_scale, scheme="predictor_corrector")
    corrected = run_scheduler(scheduler_for(prediction_type, **{**config, "scheme": "corrected"}), x, 12)
    error = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    assert error < 1e-12, f"relative max error {error:.3g}"
    assert (ours - corrected).abs().max() > 1e-6, "the corrector changed nothing: the scheme was not applied"


@pytest.mark.parametrize("guidance_scale,noise_scale", [(1.0, "paper_default"), (4.0, "paper_default"),
                                                         (7.5, "paper_default"), (None, "paper_default"),
                                                         (None, "ode"), (7.5, "ode"), (2.5, "ode")])
@pytest.mark.parametrize("prediction_type", ["epsilon", "flow_prediction"])
def test_auto_scheme_reads_the_guidance_scale_key_as_sample_er_sde_reads_its_argument(
        prediction_type, guidance_scale, noise_scale):
    """The scheduler's scheme "auto" with its guidance_scale key samples as the library with the order
    and scheme Auto's table names for that cfg at 12 steps (k_diffusion_ext.auto_policy)."""
    from k_diffusion_ext.auto_policy import choose, setting
    order, scheme = setting(choose("ode" if noise_scale == "ode" else "paper", guidance_scale, 12))
    seed = 99
    config = dict(noise_scale=noise_scale, noise_seed=seed, scheme="auto", guidance_scale=guidance_scale)
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    scheduler = scheduler_for(prediction_type, **config)
    ours = run_scheduler(scheduler, x, 12)
    theirs = run_library(scheduler, x, seed, noise_scale=noise_scale, order=order, scheme=scheme,
                         guidance_scale=guidance_scale)  # the guard reads it too
    error = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    assert error < 1e-12, f"auto at guidance {guidance_scale} is not order {order} {scheme}: relative max error {error:.3g}"
    assert scheduler_for(prediction_type, **config).config.guidance_scale == guidance_scale


@pytest.mark.parametrize("prediction_type,noise_scale",
                         [("epsilon", "paper_default"), ("flow_prediction", "reverse_sde")])
def test_brownian_noise_equals_the_library_s_brownian_sampler(prediction_type, noise_scale):
    scheduler = scheduler_for(prediction_type, noise_scale=noise_scale, noise_source="brownian", noise_seed=9)
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = run_scheduler(scheduler, x, 10)
    theirs = run_library(scheduler, x, 9, brownian=True, noise_scale=noise_scale)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    portable = run_scheduler(scheduler_for(prediction_type, noise_scale=noise_scale, noise_seed=9), x, 10)
    assert (portable - ours).abs().max() > 1e-3


def test_the_generator_seed_is_the_library_seed():
    """A pipeline's generator seeds the noise as extra_args["seed"] seeds sample_er_sde (and ComfyUI's nodes)."""
    scheduler = scheduler_for("epsilon", solver_order=3)
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = run_scheduler(scheduler, x, 8, generator=torch.Generator().manual_seed(77))
    theirs = run_library(scheduler, x, 77, order=3)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


# --- convergence ------------------------------------------------------------------------------

STEPS = [32, 64, 128, 256]
# the schedules' ends: SD1.5's k-diffusion sigma range; a flow schedule from just below 1
ENDS = {"epsilon": (14.6146, 0.0292), "flow_prediction": (0.999, 0.02)}
START = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(5))


def _to_solver(kind: str, sigma: float) -> tuple[float, float]:
    """(lambda, alpha) of a sigma as the scheduler stores it (float32)."""
    s = float(np.float32(sigma))
    return (s / (1 - s), 1 - s) if kind == "flow_prediction" else (s, (1 + s * s) ** -0.5)


def _reference(kind: str) -> torch.Tensor:
    """The ODE solution to round-off: scipy's DOP853 on dy/dlambda = (y - D(y, lambda)) / lambda (VE form),
    then the last step's prediction."""
    from scipy.integrate import solve_ivp
    (lam0, alpha0), (lam1, _) = (_to_solver(kind, s) for s in ENDS[kind])

    def rhs(lam, y):
        y = torch.from_numpy(y).view(SHAPE)
        return ((y - ve_x0(y, lam)) / lam).reshape(-1).numpy()

    sol = solve_ivp(rhs, (lam0, lam1), (START / alpha0).reshape(-1).numpy(), method="DOP853", rtol=1e-13, atol=1e-13)
    assert sol.success, sol.message
    return ve_x0(torch.from_numpy(sol.y[:, -1]).view(SHAPE), lam1)


def _ode_run(kind: str, order: int, scheme: str, steps: int) -> torch.Tensor:
    """The ODE (phi = x): `steps` steps between the fixed ends (Karras for VP, uniform in log lambda for
    flow), passed as custom sigmas; the terminal 0 is the scheduler's."""
    hi, lo = ENDS[kind]
    if kind == "flow_prediction":
        lam = np.exp(np.linspace(np.log(hi / (1 - hi)), np.log(lo / (1 - lo)), steps))
        sigmas = lam / (1 + lam)
        scheduler = scheduler_for(kind, solver_order=order, noise_scale="ode", scheme=scheme, flow_shift=1.0)
    else:
        ramp = np.linspace(0, 1, steps)
        sigmas = (hi ** (1 / 7) + ramp * (lo ** (1 / 7) - hi ** (1 / 7))) ** 7
        scheduler = scheduler_for(kind, solver_order=order, noise_scale="ode", scheme=scheme)
    scheduler.set_timesteps(sigmas=sigmas)
    return run_scheduler(scheduler, START.clone())


@pytest.mark.parametrize("kind", ["epsilon", "flow_prediction"])
def test_order_three_converges_with_order_three(kind):
    target = _reference(kind)

    def slope(scheme: str) -> float:
        errors = [((_ode_run(kind, 3, scheme, n) - target).norm() / target.norm()).item() for n in STEPS]
        assert all(e > 1e-13 for e in errors), f"errors reached round-off, the fit means nothing: {errors}"
        return -np.polyfit(np.log(STEPS), np.log(errors), 1)[0]

    corrected, reference = slope("corrected"), slope("reference")
    print(f"{kind}: order 3 slope {corrected:.2f}, the paper's scheme {reference:.2f}")
    assert 2.8 <= corrected < 3.5, f"order 3 converges with order {corrected:.2f}"
    assert 1.8 <= reference <= 2.3, f"the paper's scheme: order {reference:.2f} (expected 2)"


@pytest.mark.parametrize("scheme", ["corrected", "predictor_corrector"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "flow_prediction"])
def test_the_guard_acts_in_the_scheduler_as_in_sample_er_sde(prediction_type, scheme):
    """Strong guidance on a noisy plan turns the guard on (k_diffusion_ext.guard.GUARD_MIN_GUIDANCE):
    the scheduler, told the scale by its guidance_scale key, falls back where sample_er_sde does."""
    seed = 7
    config = dict(noise_scale="reverse_sde", noise_seed=seed, scheme=scheme, guidance_scale=7.0)
    x = torch.randn(SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    scheduler = scheduler_for(prediction_type, **config)
    ours = run_scheduler(scheduler, x, 12)
    theirs = run_library(scheduler, x, seed, noise_scale="reverse_sde", scheme=scheme, guidance_scale=7.0)
    unguarded = run_library(scheduler, x, seed, noise_scale="reverse_sde", scheme=scheme)
    error = ((ours - theirs).abs().max() / theirs.abs().max()).item()
    assert error < 1e-12, f"relative max error {error:.3g}"
    assert (theirs - unguarded).abs().max() > 1e-6, "the guard never acted here: the test shows nothing"
