"""The samplers the benchmarks compare, behind one signature: run(model, x, sigmas, seed) -> x.

- ER-SDE-Solver 1/2/3 from k_diffusion_ext (scheme "corrected", and "reference" for order 3,
  the only order where the two schemes differ), with per-item Gaussian noise (the default)
  or Brownian-tree noise.
- PyPI k-diffusion: euler_ancestral, dpmpp_sde, dpmpp_2m_sde, dpmpp_3m_sde (stochastic) and
  dpmpp_2m, heun (ODE), with their default settings. Euler-a keeps its torch.randn_like
  noise. The three DPM++ SDE samplers default to a torchsde Brownian tree, which costs
  ~0.07 s a query for 2000 x 16 numbers on one core (~0.36 s for 10000 x 16): here they get
  `BridgeBrownian`, an exact Brownian motion sampled lazily by Brownian bridges, which has
  the same law (the tree is itself an approximation of it, tol 1e-6) at one Gaussian draw a
  query. Skipped with a note when k-diffusion is not installed.
- ComfyUI's built-in er_sde when COMFYUI_DIR points at a ComfyUI checkout (skipped with a
  note otherwise).

Equal NFE: a sampler making one model call a step gets NFE steps; dpmpp_sde and heun (two
calls a step, one on the last step to sigma = 0) get NFE // 2 steps, i.e. NFE - 1 calls.
Every run counts its model calls; the benchmarks print the counts.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import torch

from k_diffusion_ext import brownian_noise_sampler, sample_er_sde, schedule_range
from k_diffusion_ext.analytic import karras_sigmas

SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0  # the EDM schedule of the paper's protocol

Model = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Sampler:
    name: str
    run: Callable[[Model, torch.Tensor, torch.Tensor, int], torch.Tensor]
    calls_per_step: int = 1
    kind: str = "sde"          # "er", "sde" or "ode"
    noise: str = ""            # which noise it draws, for the tables
    style: str = "-"           # line style in the plots

    def steps_for(self, nfe: int) -> int:
        return nfe if self.calls_per_step == 1 else max(1, nfe // 2)


def edm_sigmas(steps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX, RHO).to(dtype)


def flat_brownian_sampler(x: torch.Tensor, sigmas: torch.Tensor, seed: int):
    """k_diffusion_ext's Brownian noise with one tree for the whole batch: the same law as
    one tree per item, but a query costs one tree walk instead of one per item (torchsde
    per-item trees cost ~1.7 ms per item and step, too slow for thousands of samples)."""
    lo, hi = schedule_range(sigmas)
    inner = brownian_noise_sampler(x.reshape(1, -1), lo, hi, seed)
    return lambda sigma, sigma_next: inner(sigma, sigma_next).reshape(x.shape)


class BridgeBrownian:
    """Exact Brownian motion W over [sigma_min, sigma_max], one path per call of the sampler,
    sampled lazily: a new point between two known ones is drawn from the Brownian bridge.
    noise_sampler(s, t) = (W(max) - W(min)) / sqrt(|t - s|): unit Gaussian, independent over
    disjoint intervals and consistent over overlapping ones (what dpmpp_sde's substeps need)."""

    def __init__(self, x: torch.Tensor, sigma_min: float, sigma_max: float, seed: int):
        self.gen = torch.Generator().manual_seed(int(seed) + 7919)
        self.shape, self.dtype, self.device = x.shape, x.dtype, x.device
        lo, hi = float(sigma_min), float(sigma_max)
        self.t = [lo, hi]
        self.w = [torch.zeros(self.shape, dtype=torch.float64), self._randn() * (hi - lo) ** 0.5]

    def _randn(self) -> torch.Tensor:
        return torch.randn(self.shape, generator=self.gen, dtype=torch.float64)

    def _at(self, t: float) -> torch.Tensor:
        import bisect
        t = min(max(t, self.t[0]), self.t[-1])
        k = bisect.bisect_left(self.t, t)
        if k < len(self.t) and self.t[k] == t:
            return self.w[k]
        lo, hi, w_lo, w_hi = self.t[k - 1], self.t[k], self.w[k - 1], self.w[k]
        frac = (t - lo) / (hi - lo)
        w = w_lo + frac * (w_hi - w_lo) + ((t - lo) * (hi - t) / (hi - lo)) ** 0.5 * self._randn()
        self.t.insert(k, t)
        self.w.insert(k, w)
        return w

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        a, b = sorted((float(sigma), float(sigma_next)))
        a, b = max(a, self.t[0]), min(b, self.t[-1])
        if not b > a:
            return torch.zeros(self.shape, dtype=self.dtype, device=self.device)
        return ((self._at(b) - self._at(a)) / (b - a) ** 0.5).to(self.dtype).to(self.device)


def _er(order: int, scheme: str, noise: str, noise_scale: str = "paper_default") -> Callable:
    def run(model: Model, x: torch.Tensor, sigmas: torch.Tensor, seed: int) -> torch.Tensor:
        ns = flat_brownian_sampler(x, sigmas, seed) if noise == "brownian" else None
        return sample_er_sde(model, x, sigmas, extra_args={"seed": seed}, disable=True, order=order,
                             scheme=scheme, noise_sampler=ns, noise_scale=noise_scale)
    return run


ER_VARIANTS = ((1, "corrected"), (2, "corrected"), (3, "corrected"), (3, "reference"))


def er_samplers(noises: tuple[str, ...] = ("per-item", "brownian"), brownian_variants=ER_VARIANTS) -> list[Sampler]:
    out = []
    for noise in noises:
        suffix = "" if noise == "per-item" else ", Brownian"
        style = "-" if noise == "per-item" else ":"
        for order, scheme in (ER_VARIANTS if noise == "per-item" else brownian_variants):
            tag = " ref" if scheme == "reference" else ""
            out.append(Sampler(f"ER-SDE-{order}{tag}{suffix}", _er(order, scheme, noise), 1, "er",
                               "per-item Gaussian" if noise == "per-item" else "Brownian tree (torchsde, flat)", style))
    return out


def kdiffusion_samplers(bridge_off: bool = False) -> tuple[list[Sampler], str | None]:
    """bridge_off: keep k-diffusion's own BrownianTreeNoiseSampler (slow on big batches)."""
    try:
        import k_diffusion.sampling as kds
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip the peer
        return [], f"k-diffusion not importable ({exc.__class__.__name__}: {exc}); its samplers are skipped"
    brownian = "Brownian tree (torchsde)" if bridge_off else "Brownian motion (exact bridge)"

    def wrap(fn: Callable, bridge: bool) -> Callable:
        def run(model: Model, x: torch.Tensor, sigmas: torch.Tensor, seed: int) -> torch.Tensor:
            torch.manual_seed(seed)  # torch.randn_like (Euler-a) draws from torch's RNG
            if bridge and not bridge_off:
                return fn(model, x, sigmas, disable=True, noise_sampler=BridgeBrownian(x, *schedule_range(sigmas), seed))
            return fn(model, x, sigmas, disable=True)
        return run

    table = [
        ("Euler-a (k-diff)", kds.sample_euler_ancestral, 1, "sde", "torch.randn_like"),
        ("DPM++SDE (k-diff)", kds.sample_dpmpp_sde, 2, "sde", brownian),
        ("DPM++2M-SDE (k-diff)", kds.sample_dpmpp_2m_sde, 1, "sde", brownian),
        ("DPM++3M-SDE (k-diff)", kds.sample_dpmpp_3m_sde, 1, "sde", brownian),
        ("DPM++2M ODE (k-diff)", kds.sample_dpmpp_2m, 1, "ode", "none"),
        ("Heun ODE (k-diff)", kds.sample_heun, 2, "ode", "none"),
    ]
    return [Sampler(n, wrap(f, noise == brownian), c, k, noise, "--") for n, f, c, k, noise in table], None


class _ComfyModel:
    """What ComfyUI's samplers need of their model: model_sampling, where they look for it."""

    def __init__(self, fn: Model, model_sampling: object):
        self.fn = fn
        patcher = SimpleNamespace(get_model_object=lambda name: model_sampling)
        # euler_ancestral and the DPM++ SDE samplers read model.inner_model.inner_model.model_sampling
        self.inner_model = SimpleNamespace(model_patcher=patcher, inner_model=SimpleNamespace(model_sampling=model_sampling))

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs: object) -> torch.Tensor:
        return self.fn(x, sigma, **kwargs)


def comfy_module() -> tuple[SimpleNamespace | None, str | None]:
    """ComfyUI's comfy.k_diffusion.sampling and a real model_sampling object, from COMFYUI_DIR."""
    root = os.environ.get("COMFYUI_DIR")
    if not root:
        return None, "COMFYUI_DIR is not set: ComfyUI's er_sde is skipped (set it to a ComfyUI checkout)"
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        if not torch.cuda.is_available():
            from comfy.cli_args import args as comfy_args
            comfy_args.cpu = True  # ComfyUI's --cpu: model_management looks for a GPU on import otherwise
        import comfy.k_diffusion.sampling as csampling
        import comfy.model_sampling as cms
    except Exception as exc:  # noqa: BLE001
        return None, f"ComfyUI at {root} could not be imported ({exc.__class__.__name__}: {exc}); its er_sde is skipped"

    # how ComfyUI builds model_sampling for an EDM-preconditioned (VE, x0-predicting) model
    class ModelSampling(cms.ModelSamplingContinuousEDM, cms.EDM):
        pass

    sampling = ModelSampling()
    sampling.set_parameters(SIGMA_MIN, SIGMA_MAX, 0.5)
    return SimpleNamespace(sampling=csampling, model_sampling=sampling, root=root), None


def comfy_samplers() -> tuple[list[Sampler], str | None]:
    comfy, note = comfy_module()
    if comfy is None:
        return [], note

    def run(model: Model, x: torch.Tensor, sigmas: torch.Tensor, seed: int) -> torch.Tensor:
        return comfy.sampling.sample_er_sde(_ComfyModel(model, comfy.model_sampling), x, sigmas,
                                            extra_args={"seed": seed}, disable=True)
    return [Sampler("er_sde (ComfyUI)", run, 1, "sde", "torch.randn, one generator", "-.")], None


def all_samplers(brownian_variants=((3, "corrected"),)) -> tuple[list[Sampler], list[str]]:
    """ER-SDE with per-item noise in every variant, with Brownian noise in `brownian_variants`
    (its law is the same: ER-SDE queries disjoint intervals, whose Brownian increments are
    independent Gaussians), then the peers."""
    notes = []
    samplers = er_samplers(("per-item", "brownian"), brownian_variants)
    # diagnostic, not one of the compared samplers: the same solver with the classical reverse
    # SDE's noise scale phi(x) = x^2 (noise at every sigma, like DPM++2M-SDE) instead of the
    # paper's default (nearly an ODE below sigma ~ 1)
    samplers.append(Sampler("ER-SDE-3, phi=x^2 (diagnostic)", _er(3, "corrected", "per-item", "reverse_sde"), 1, "er",
                            "per-item Gaussian", "-."))
    for extra, note in (kdiffusion_samplers(), comfy_samplers()):
        samplers += extra
        if note:
            notes.append(note)
    return samplers, notes


class CountingModel:
    """Wraps a model and counts its calls (NFE)."""

    def __init__(self, fn: Model):
        self.fn, self.calls = fn, 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs: object) -> torch.Tensor:
        self.calls += 1
        return self.fn(x, sigma, **kwargs)
