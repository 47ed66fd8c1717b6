"""The samplers the benchmarks compare: one registry, PEERS, one entry per sampler.

Every sampler has one signature, run(model, x, sigmas, seed, space) -> x, where `space` says
how the latent is scaled: "edm" (variance exploding, x = x0 + sigma eps) or "flow" (ComfyUI's
CONST, x = (1 - sigma) x0 + sigma eps). A sampler sits in the group of the SDE it solves:

- "ode": the probability-flow ODE (noise scale phi = x in the paper's notation);
- "reverse_sde": the classical reverse SDE (phi = x^2), which euler_ancestral,
  res_multistep_ancestral, the DPM++ SDE samplers and SEEDS (eta = 1) also solve;
- "paper": the paper's default noise scale phi(x) = x (e^(x^0.3) + 10) (ours, its reference
  scheme, ComfyUI's er_sde);
- "sa_interval": SA-Solver's default, the reverse SDE between ComfyUI's 20 % and 80 % noise
  levels and the ODE outside (a distribution of its own).

The project's solver (k_diffusion_ext.sample_er_sde) runs at every group's noise scale. The
peers come from ComfyUI's comfy.k_diffusion.sampling when COMFYUI_DIR points at a checkout
(as ComfyUI ships them, with a real model_sampling object: EDM for "edm", ModelSamplingDiscreteFlow
+ CONST for "flow"); without it, the ones PyPI's k-diffusion has run on "edm" models only.
The DPM++ SDE samplers default to a torchsde Brownian tree (~0.07 s a query for 2000 x 16
numbers): they get `BridgeBrownian`, an exact Brownian motion of the same law.

Equal NFE: `steps_for` counts the model calls of a dry run (a zero model, two items) and
gives the most steps whose calls do not exceed the NFE; the harness counts the calls again.
"""
from __future__ import annotations

import bisect
import functools
import os
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import torch

from k_diffusion_ext import brownian_noise_sampler, sample_er_sde, schedule_range
from k_diffusion_ext.analytic import karras_sigmas

SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0  # the EDM schedule of the paper's protocol
FLOW_SHIFT = 3.0
GROUPS = ("ode", "reverse_sde", "paper", "sa_interval")
GROUP_TITLES = {"ode": "ODE (phi = x)", "reverse_sde": "reverse SDE (phi = x^2)",
                "paper": "paper's noise scale (phi = x (e^(x^0.3) + 10))",
                "sa_interval": "SA-Solver's interval SDE (reverse SDE between 20 % and 80 % noise, ODE outside)"}

Model = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Sampler:
    name: str
    run: Callable[..., torch.Tensor]   # run(model, x, sigmas, seed, space="edm") -> x
    group: str = "paper"
    ours: bool = False
    noise: str = ""            # which noise it draws, for the tables
    style: str = "-"           # line style in the plots
    spaces: tuple[str, ...] = ("edm", "flow")

    @property
    def kind(self) -> str:  # the older name of `group`, kept for scripts that read it
        return "er" if self.ours else ("ode" if self.group == "ode" else "sde")

    def steps_for(self, nfe: int, space: str = "edm") -> int:
        return steps_for(self, nfe, space)


def edm_sigmas(steps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return karras_sigmas(steps, SIGMA_MIN, SIGMA_MAX, RHO).to(dtype)


def flow_sigmas(steps: int, dtype: torch.dtype = torch.float32, shift: float = FLOW_SHIFT,
                sigma_max: float = 0.9995) -> torch.Tensor:
    """SD3's shifted flow schedule (ComfyUI's ModelSamplingSD3 with the "simple" scheduler):
    t uniform from 1 to 0, sigma = shift t / (1 + (shift - 1) t), then 0. The first sigma is
    capped below 1, where alpha = 1 - sigma vanishes (ComfyUI's SNR-based samplers make the
    same offset)."""
    t = torch.linspace(1, 0, steps + 1, dtype=torch.float64)[:-1]
    s = (shift * t / (1 + (shift - 1) * t)).clamp(max=sigma_max)
    return torch.cat([s, s.new_zeros(1)]).to(dtype)


def sigmas_for(space: str, steps: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return edm_sigmas(steps, dtype) if space == "edm" else flow_sigmas(steps, dtype)


def flat_brownian_sampler(x: torch.Tensor, sigmas: torch.Tensor, seed: int):
    """k_diffusion_ext's Brownian noise with one tree for the whole batch: the same law as
    one tree per item, but a query costs one tree walk instead of one per item."""
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


# ---------------------------------------------------------------------------------------------
# the project's solver

def _alphas(sigmas: torch.Tensor, space: str) -> torch.Tensor | None:
    return None if space == "edm" else 1 - sigmas


def ours(order: int, noise_scale: str = "paper_default", scheme: str = "corrected", noise: str = "per-item") -> Callable:
    """sample_er_sde as a benchmark sampler. It hands over the guidance scale as a host does (a
    guided model's `scale`, 1 for an unguided one); scheme "auto" and the guard read it."""
    def run(model: Model, x: torch.Tensor, sigmas: torch.Tensor, seed: int, space: str = "edm") -> torch.Tensor:
        ns = flat_brownian_sampler(x, sigmas, seed) if noise == "brownian" else None
        return sample_er_sde(model, x, sigmas, extra_args={"seed": seed}, disable=True, order=order, scheme=scheme,
                             noise_sampler=ns, noise_scale=noise_scale, alphas=_alphas(sigmas, space),
                             guidance_scale=float(getattr(model, "scale", 1.0)))
    return run


# ---------------------------------------------------------------------------------------------
# ComfyUI

class _ComfyModel:
    """What ComfyUI's samplers need of their model: inner_model.model_patcher.get_model_object
    ("model_sampling"), inner_model.inner_model.model_sampling, and the model_options hooks
    (sampler_post_cfg_function) its *_cfg_pp samplers use to read the unconditional prediction.
    A model with a `both(x, sigma) -> (guided, uncond)` method (bench.models.labelled.CFG)
    answers those hooks; any other model reports itself as its own unconditional prediction."""

    def __init__(self, fn: Model, model_sampling: object):
        self.fn = fn
        patcher = SimpleNamespace(get_model_object=lambda name: model_sampling)
        self.inner_model = SimpleNamespace(model_patcher=patcher, inner_model=SimpleNamespace(model_sampling=model_sampling))

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs: object) -> torch.Tensor:
        options = kwargs.get("model_options") or {}
        hooks = options.get("sampler_post_cfg_function", []) if isinstance(options, dict) else []
        if not hooks:
            return self.fn(x, sigma, **kwargs)
        if hasattr(self.fn, "both"):
            denoised, uncond = self.fn.both(x, sigma)
            cond = getattr(self.fn, "last_cond", denoised)
            scale = getattr(self.fn, "scale", 1.0)
        else:
            denoised = cond = uncond = self.fn(x, sigma, **kwargs)
            scale = 1.0
        for hook in hooks:
            denoised = hook({"denoised": denoised, "cond": None, "uncond": None, "cond_scale": scale, "model": self,
                             "uncond_denoised": uncond, "cond_denoised": cond, "sigma": sigma,
                             "model_options": options, "input": x})
        return denoised


@functools.lru_cache(maxsize=1)
def _comfy_import(root: str):
    if root not in sys.path:
        sys.path.insert(0, root)
    if not torch.cuda.is_available():
        from comfy.cli_args import args as comfy_args
        comfy_args.cpu = True  # ComfyUI's --cpu: model_management looks for a GPU on import otherwise
    import comfy.k_diffusion.sampling as csampling
    import comfy.model_sampling as cms
    import comfy.extra_samplers.uni_pc as uni_pc
    for name, fn in EXTRA_SAMPLERS.items():  # found beside the k-diffusion ones (a namespace of our own)
        setattr(_EXTRA, f"sample_{name}", getattr(uni_pc, fn))
    return csampling, cms


def comfy_module() -> tuple[SimpleNamespace | None, str | None]:
    """ComfyUI's comfy.k_diffusion.sampling and real model_sampling objects, from COMFYUI_DIR:
    `model_sampling` (EDM, x0-predicting, VE) and `flow_sampling` (SD3's discrete flow, CONST)."""
    root = os.environ.get("COMFYUI_DIR")
    if not root:
        return None, "COMFYUI_DIR is not set: ComfyUI's samplers are skipped (set it to a ComfyUI checkout)"
    try:
        csampling, cms = _comfy_import(root)
    except Exception as exc:  # noqa: BLE001
        # the note goes into the results files: name the variable, not the local path
        reason = str(exc).replace(root, "$COMFYUI_DIR")
        return None, f"ComfyUI ($COMFYUI_DIR) could not be imported ({exc.__class__.__name__}: {reason}); its samplers are skipped"

    # how ComfyUI builds model_sampling for an EDM-preconditioned (VE, x0-predicting) model ...
    class ModelSampling(cms.ModelSamplingContinuousEDM, cms.EDM):
        pass

    # ... and for SD3 (ModelSamplingSD3: discrete flow, CONST)
    class FlowSampling(cms.ModelSamplingDiscreteFlow, cms.CONST):
        pass

    sampling = ModelSampling()
    sampling.set_parameters(SIGMA_MIN, SIGMA_MAX, 0.5)
    flow = FlowSampling()
    flow.set_parameters(shift=FLOW_SHIFT, multiplier=1000)
    return SimpleNamespace(sampling=csampling, model_sampling=sampling, flow_sampling=flow, root=root), None


BROWNIAN = "Brownian motion (exact bridge)"
TORCH_RANDN = "torch.randn, one generator"

# ComfyUI's name, group, its noise when stochastic, whether it defaults to a Brownian tree, extra kwargs
COMFY_PEERS: tuple[tuple[str, str, str, bool, dict], ...] = (
    ("er_sde", "paper", TORCH_RANDN, False, {}),
    ("euler_ancestral", "reverse_sde", TORCH_RANDN, False, {}),
    ("res_multistep_ancestral", "reverse_sde", TORCH_RANDN, False, {}),
    ("dpmpp_sde", "reverse_sde", BROWNIAN, True, {}),
    ("dpmpp_2m_sde", "reverse_sde", BROWNIAN, True, {}),
    ("dpmpp_2m_sde_heun", "reverse_sde", BROWNIAN, True, {}),
    ("dpmpp_3m_sde", "reverse_sde", BROWNIAN, True, {}),
    ("seeds_2", "reverse_sde", TORCH_RANDN, False, {}),
    ("seeds_3", "reverse_sde", TORCH_RANDN, False, {}),
    # ComfyUI 0.33: seeds_2 with r = 1 and phi_2 weights, eta 1 (the reverse SDE, as seeds_2) ...
    ("exp_heun_2_x0_sde", "reverse_sde", TORCH_RANDN, False, {}),
    ("sa_solver", "sa_interval", TORCH_RANDN, False, {}),
    ("sa_solver_pece", "sa_interval", TORCH_RANDN, False, {}),
    ("dpmpp_2m", "ode", "none", False, {}),
    ("deis", "ode", "none", False, {}),
    ("ipndm", "ode", "none", False, {}),
    ("ipndm_v", "ode", "none", False, {}),
    ("heun", "ode", "none", False, {}),
    ("uni_pc", "ode", "none", False, {}),
    ("uni_pc_bh2", "ode", "none", False, {}),
    ("res_multistep", "ode", "none", False, {}),
    ("gradient_estimation", "ode", "none", False, {}),
    ("lms", "ode", "none", False, {}),
    # ... and eta 0 (the ODE); 0.3.64 has neither: available_peers leaves them out with a note
    ("exp_heun_2_x0", "ode", "none", False, {}),
)
# ComfyUI's UniPC lives in comfy/extra_samplers/uni_pc.py (KSampler names uni_pc, uni_pc_bh2)
EXTRA_SAMPLERS = {"uni_pc": "sample_unipc", "uni_pc_bh2": "sample_unipc_bh2"}
# PyPI k-diffusion has these (EDM models only), for runs without COMFYUI_DIR
KDIFF_FALLBACK = ("euler_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_3m_sde", "dpmpp_2m", "heun")


_EXTRA = SimpleNamespace()


def _comfy_run(comfy: SimpleNamespace, fn_name: str, brownian: bool, kwargs: dict) -> Callable:
    fn = getattr(_EXTRA if fn_name in EXTRA_SAMPLERS else comfy.sampling, f"sample_{fn_name}")

    def run(model: Model, x: torch.Tensor, sigmas: torch.Tensor, seed: int, space: str = "edm") -> torch.Tensor:
        torch.manual_seed(seed)
        ms = comfy.model_sampling if space == "edm" else comfy.flow_sampling
        extra = dict(kwargs)
        if brownian:
            extra["noise_sampler"] = BridgeBrownian(x, *schedule_range(sigmas), seed)
        if fn_name in EXTRA_SAMPLERS and x.dtype != torch.float32:  # its coefficients are float32 tensors
            return fn(_ComfyModel(model, ms), x.float(), sigmas.float(), extra_args={"seed": seed}, disable=True,
                      **extra).to(x.dtype)
        return fn(_ComfyModel(model, ms), x, sigmas, extra_args={"seed": seed}, disable=True, **extra)
    return run


def _kdiff_run(fn: Callable, brownian: bool) -> Callable:
    def run(model: Model, x: torch.Tensor, sigmas: torch.Tensor, seed: int, space: str = "edm") -> torch.Tensor:
        if space != "edm":
            raise ValueError("PyPI k-diffusion's samplers assume a VE (EDM) latent; set COMFYUI_DIR for flow models")
        torch.manual_seed(seed)  # torch.randn_like (Euler-a) draws from torch's RNG
        if brownian:
            return fn(model, x, sigmas, disable=True, noise_sampler=BridgeBrownian(x, *schedule_range(sigmas), seed))
        return fn(model, x, sigmas, disable=True)
    return run


def our_samplers(brownian: bool = False) -> list[Sampler]:
    """The project's solver: order 3 at every group's noise scale, plus orders 1/2 and the
    paper's reference scheme at the paper's noise scale, and the predictor-corrector scheme
    at orders 2 and 3 in every group but SA-Solver's."""
    out = [
        Sampler("ER-SDE-3 (ode)", ours(3, "ode"), "ode", True, "none", "-"),
        Sampler("ER-SDE-3 (reverse_sde)", ours(3, "reverse_sde"), "reverse_sde", True, "per-item Gaussian", "-"),
        Sampler("ER-SDE-1", ours(1), "paper", True, "per-item Gaussian", "-"),
        Sampler("ER-SDE-2", ours(2), "paper", True, "per-item Gaussian", "-"),
        Sampler("ER-SDE-3", ours(3), "paper", True, "per-item Gaussian", "-"),
        Sampler("ER-SDE-3 ref", ours(3, scheme="reference"), "paper", True, "per-item Gaussian", "-"),
        # scheme "predictor_corrector": order 2 and 3 predictors, each with its corrector
        Sampler("ER-SDE-2 PC (ode)", ours(2, "ode", "predictor_corrector"), "ode", True, "none", "-"),
        Sampler("ER-SDE-3 PC (ode)", ours(3, "ode", "predictor_corrector"), "ode", True, "none", "-"),
        Sampler("ER-SDE-2 PC (reverse_sde)", ours(2, "reverse_sde", "predictor_corrector"), "reverse_sde", True,
                "per-item Gaussian", "-"),
        Sampler("ER-SDE-3 PC (reverse_sde)", ours(3, "reverse_sde", "predictor_corrector"), "reverse_sde", True,
                "per-item Gaussian", "-"),
        Sampler("ER-SDE-2 PC", ours(2, scheme="predictor_corrector"), "paper", True, "per-item Gaussian", "-"),
        Sampler("ER-SDE-3 PC", ours(3, scheme="predictor_corrector"), "paper", True, "per-item Gaussian", "-"),
    ]
    if brownian:
        out.append(Sampler("ER-SDE-3, Brownian", ours(3, noise="brownian"), "paper", True, "Brownian tree (flat)", ":"))
    return out


def available_peers(sampling: object, peers=COMFY_PEERS) -> tuple[list[tuple], list[str]]:
    """The entries of `peers` a host's comfy.k_diffusion.sampling (`sampling`) has, and a note
    naming those it lacks (samplers added in a later ComfyUI than the one at COMFYUI_DIR)."""
    have = [p for p in peers if p[0] in EXTRA_SAMPLERS or hasattr(sampling, f"sample_{p[0]}")]
    missing = [p[0] for p in peers if p not in have]
    note = [f"this ComfyUI lacks {', '.join(missing)} (added in a later version): left out"] if missing else []
    return have, note


def comfy_peer(comfy: SimpleNamespace, name: str, group: str, noise: str = "none", brownian: bool = False,
               **kwargs: object) -> Sampler:
    """One of ComfyUI's samplers as a benchmark peer (COMFY_PEERS' entries, or another such as euler)."""
    return Sampler(name, _comfy_run(comfy, name, brownian, kwargs), group, False, noise, "--")


def peer_samplers() -> tuple[list[Sampler], list[str]]:
    comfy, note = comfy_module()
    if comfy is not None:
        have, notes = available_peers(comfy.sampling)
        return [comfy_peer(comfy, name, group, noise, brown, **kw) for name, group, noise, brown, kw in have], notes
    notes = [note]
    try:
        import k_diffusion.sampling as kds
    except Exception as exc:  # noqa: BLE001 - any import failure means: skip the peers
        return [], notes + [f"k-diffusion not importable ({exc.__class__.__name__}: {exc}); no peers"]
    table = {name: (group, noise, brown) for name, group, noise, brown, _ in COMFY_PEERS}
    out = [Sampler(f"{name} (k-diff)", _kdiff_run(getattr(kds, f"sample_{name}"), table[name][2]), table[name][0],
                   False, table[name][1], "--", ("edm",)) for name in KDIFF_FALLBACK]
    return out, notes + ["peers from PyPI k-diffusion instead (EDM models only; no SEEDS, SA-Solver, DEIS, iPNDM, er_sde)"]


def all_samplers(brownian: bool = False) -> tuple[list[Sampler], list[str]]:
    peers, notes = peer_samplers()
    return our_samplers(brownian) + peers, notes


# the converged distribution of every group: this peer at the reference NFE (ours where no peer
# is available) ...
REFERENCE_SAMPLER = {"ode": "dpmpp_2m", "reverse_sde": "dpmpp_2m_sde", "paper": "er_sde", "sa_interval": "sa_solver"}
# ... and a second solver of the same SDE at the same NFE, whose distance to it checks convergence
REFERENCE_CHECK = {"ode": "ER-SDE-3 (ode)", "reverse_sde": "ER-SDE-3 (reverse_sde)", "paper": "ER-SDE-3",
                   "sa_interval": "sa_solver_pece"}


def _zero_model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
    return torch.zeros_like(x)


class CountingModel:
    """Wraps a model and counts its calls (NFE); keeps the wrapped model's CFG hooks (`both`)."""

    def __init__(self, fn: Model):
        self.fn, self.calls = fn, 0
        if hasattr(fn, "both"):
            self.both = self._both

    def _both(self, x: torch.Tensor, sigma: torch.Tensor):
        self.calls += 1
        return self.fn.both(x, sigma)

    def __getattr__(self, name: str):  # last_cond, scale of a CFG model
        return getattr(self.__dict__["fn"], name)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs: object) -> torch.Tensor:
        self.calls += 1
        return self.fn(x, sigma, **kwargs)


_STEPS_CACHE: dict = {}


def count_calls(sampler: Sampler, steps: int, space: str = "edm") -> int:
    key = (sampler.name, steps, space)
    if key not in _STEPS_CACHE:
        counted = CountingModel(_zero_model)
        sigmas = sigmas_for(space, steps)
        sampler.run(counted, torch.randn(2, 4) * sigmas[0], sigmas, 0, space)
        _STEPS_CACHE[key] = counted.calls
    return _STEPS_CACHE[key]


def steps_for(sampler: Sampler, nfe: int, space: str = "edm") -> int:
    """The most steps whose model calls (counted on a dry run) do not exceed nfe."""
    calls = count_calls(sampler, nfe, space)
    steps = nfe if calls <= nfe else max(1, nfe * nfe // calls + 1)
    while steps > 1 and count_calls(sampler, steps, space) > nfe:
        steps -= 1
    return steps
