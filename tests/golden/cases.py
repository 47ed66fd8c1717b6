"""Golden outputs: what every released sampler name and every node input value produces.

A case runs the same code path a host runs (ComfyUI's sampler function, the nodes' input
mapping, k-diffusion's registered function) on a small latent with an exact analytic
denoiser, a fixed seed, on the CPU in float32. The results of 0.2.0 are stored beside this
file; tests/golden/test_golden_outputs.py fails when a change alters one beyond float
rounding. A released name or input value must keep its output: new behaviour gets a new
name or value (and a new case here). The CFG++ names are pinned at the solver's CFG++ update
(their ComfyUI route, the post-CFG hook, is host-tested against ComfyUI's own cfg_pp samplers
in tests/comfyui); the WebUI entries use the host's noise and are host-tested.

    python tests/golden/cases.py --write 0.2.0     # only when a new version may change images
    python tests/golden/cases.py --add 0.2.0       # store the outputs of new cases, the others untouched
    python tests/golden/cases.py --repin 0.2.0     # re-store the auto cases only: a release whose
                                                   # CHANGELOG says what auto picks now
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ersde_nodes import names  # noqa: E402
from ersde_nodes.sampling import COMFY_SAMPLER_FUNCTIONS, sample_er_sde_comfy, sampler_options  # noqa: E402
from k_diffusion_ext import NOISE_SCALES, SAMPLER_FUNCTIONS, gaussian_noise, sample_er_sde  # noqa: E402
from k_diffusion_ext.analytic import karras_sigmas  # noqa: E402

SHAPE = (2, 4, 4, 4)
SEED = 20260
DATA_MEAN = torch.linspace(-0.6, 0.6, 64).view(1, 4, 4, 4)
DATA_STD = torch.linspace(0.2, 0.7, 64).flip(0).view(1, 4, 4, 4)
DEFAULT_INPUTS = {names.IN_ORDER: 3, names.IN_NOISE_SCALE: "paper_default",
                  names.IN_CUSTOM_NOISE_SCALE: "x * (exp(x**0.3) + 10)", names.IN_ETA: 1.0,
                  names.IN_S_NOISE: 1.0, names.IN_NOISE_TYPE: "gaussian", names.IN_SCHEME: "corrected"}


class CONST:
    """Stands for ComfyUI's flow model sampling where no host is imported (model_type checks the class name)."""


def denoiser(alpha_of: Callable[[torch.Tensor], torch.Tensor], mean: torch.Tensor = DATA_MEAN) -> Callable[..., torch.Tensor]:
    """E[x0 | x] for Gaussian data N(mean, std^2) per element and x = alpha (x0 + lambda noise)."""
    def model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        s = sigma.view(-1, 1, 1, 1).to(x.dtype)
        alpha = alpha_of(s)
        lam2 = (s / alpha) ** 2
        return mean + DATA_STD ** 2 / (DATA_STD ** 2 + lam2) * (x / alpha - mean)
    return model


def cfg_pp_case(order: int, flow: bool, scheme: str = names.SCHEME_CORRECTED) -> Callable[[], torch.Tensor]:
    """The solver's CFG++ update (what er_sde_solver_N_cfg_pp runs once ComfyUI has handed over
    the unconditional prediction): guided = uncond + 1.5 (cond - uncond), exact Gaussian models."""
    def run() -> torch.Tensor:
        alpha_of = (lambda s: 1 - s) if flow else (lambda s: torch.ones_like(s))
        uncond_model, cond_model = denoiser(alpha_of), denoiser(alpha_of, DATA_MEAN + 0.4)
        last = []

        def guided(x: torch.Tensor, sigma: torch.Tensor, **kw: object) -> torch.Tensor:
            u = uncond_model(x, sigma)
            last[:] = [u]
            return u + 1.5 * (cond_model(x, sigma) - u)
        x, sigmas = flow_start() if flow else ve_start()
        sigmas = sigmas.clamp(max=0.9999) if flow else sigmas  # a flow schedule's first sigma must be below 1
        alphas = 1 - sigmas.double() if flow else None
        return sample_er_sde(guided, x, sigmas, {"seed": SEED}, disable=True, order=order, alphas=alphas,
                             uncond=lambda: last[0], scheme=scheme)
    return run


def ve_model() -> Callable[..., torch.Tensor]:
    return denoiser(lambda s: torch.ones_like(s))


def flow_model() -> Callable[..., torch.Tensor]:
    model = denoiser(lambda s: 1 - s)
    patcher = SimpleNamespace(get_model_object=lambda name: CONST())
    wrapper = lambda x, sigma, **kw: model(x, sigma, **kw)  # noqa: E731
    wrapper.inner_model = SimpleNamespace(model_patcher=patcher)
    return wrapper


def ve_start() -> tuple[torch.Tensor, torch.Tensor]:
    sigmas = karras_sigmas(8, 0.0292, 14.6).float()
    noise = gaussian_noise(torch.zeros(SHAPE), SEED + 1, 0)
    return noise * sigmas[0], sigmas


def flow_start() -> tuple[torch.Tensor, torch.Tensor]:
    sigmas = torch.linspace(1.0, 0.0, 9)
    shift = 3.0  # SD3's shifted flow schedule
    sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    return gaussian_noise(torch.zeros(SHAPE), SEED + 1, 0), sigmas


def node_case(flow: bool = False, **changes: object) -> Callable[[], torch.Tensor]:
    inputs = {**DEFAULT_INPUTS, **changes}

    def run() -> torch.Tensor:
        x, sigmas = flow_start() if flow else ve_start()
        model = flow_model() if flow else ve_model()
        return sample_er_sde_comfy(model, x, sigmas, {"seed": SEED}, disable=True, **sampler_options(**inputs))
    return run


def cases() -> dict[str, Callable[[], torch.Tensor]]:
    out: dict[str, Callable[[], torch.Tensor]] = {}
    for name in names.SAMPLER_NAME_BY_ORDER.values():  # the CFG++ names need ComfyUI's CFG: see below
        fn = COMFY_SAMPLER_FUNCTIONS["sample_" + name]
        out[f"comfyui {name}"] = lambda fn=fn: fn(ve_model(), *ve_start(), {"seed": SEED}, disable=True)
        out[f"comfyui {name}, flow model"] = lambda fn=fn: fn(flow_model(), *flow_start(), {"seed": SEED}, disable=True)
    for name, fn in SAMPLER_FUNCTIONS.items():
        out[f"k-diffusion {name}"] = lambda fn=fn: fn(ve_model(), *ve_start(), extra_args={"seed": SEED}, disable=True)
    values = {
        names.IN_ORDER: [1, 2, 3],
        names.IN_NOISE_SCALE: list(NOISE_SCALES) + [names.CUSTOM],
        names.IN_ETA: [0.0, 0.5, 2.0],
        names.IN_S_NOISE: [0.0, 0.5],
        names.IN_NOISE_TYPE: list(names.NOISE_TYPES),
        names.IN_SCHEME: list(names.SCHEMES),
    }
    for key, options in values.items():
        for value in options:
            out[f"node {key}={value}"] = node_case(**{key: value})
    out[f"node {names.IN_NOISE_SCALE}=custom, {names.IN_CUSTOM_NOISE_SCALE}=x**1.5 * 2"] = node_case(
        **{names.IN_NOISE_SCALE: names.CUSTOM, names.IN_CUSTOM_NOISE_SCALE: "x**1.5 * 2"})
    for noise_type in names.NOISE_TYPES:
        out[f"node {names.IN_NOISE_TYPE}={noise_type}, flow model"] = node_case(flow=True, **{names.IN_NOISE_TYPE: noise_type})
    for order, name in names.CFG_PP_SAMPLER_NAME_BY_ORDER.items():
        out[f"solver CFG++ order {order} ({name})"] = cfg_pp_case(order, flow=False)
        out[f"solver CFG++ order {order} ({name}), flow model"] = cfg_pp_case(order, flow=True)
    # added after 0.2.0: the predictor-corrector scheme on a flow model, with Brownian noise, and with CFG++
    pc = {names.IN_SCHEME: names.SCHEME_PREDICTOR_CORRECTOR}
    out[f"node {names.IN_SCHEME}={names.SCHEME_PREDICTOR_CORRECTOR}, flow model"] = node_case(flow=True, **pc)
    out[f"node {names.IN_SCHEME}={names.SCHEME_PREDICTOR_CORRECTOR}, {names.IN_NOISE_TYPE}={names.NOISE_BROWNIAN}"] = \
        node_case(**pc, **{names.IN_NOISE_TYPE: names.NOISE_BROWNIAN})
    for flow in (False, True):
        out["solver CFG++ order 3, scheme predictor_corrector" + (", flow model" if flow else "")] = cfg_pp_case(
            3, flow, names.SCHEME_PREDICTOR_CORRECTOR)
    # added after 0.2.0: scheme auto, which reads the guidance scale the host hands over
    for guidance, noise_scale, flow in ((1.0, "paper_default", False), (1.0, "paper_default", True),
                                        (2.5, "reverse_sde", False), (7.0, "paper_default", False),
                                        (7.0, "ode", True)):
        out[f"solver scheme auto, guidance_scale {guidance:g}, {noise_scale}" + (", flow model" if flow else "")] = \
            auto_case(guidance, noise_scale, flow)
    # added after 0.2.0: the guard (guidance above 3 on a noisy plan: order >= 2 falls back where it leaves range)
    for scheme in (names.SCHEME_CORRECTED, names.SCHEME_PREDICTOR_CORRECTOR):
        for flow in (False, True):
            out[f"solver guard, guidance_scale 7, reverse_sde, order 3 {scheme}" + (", flow model" if flow else "")] = \
                guard_case(scheme, flow)
    # added in 0.3.0: ER-SDE-Solver Auto through ComfyUI's sampler function, the cfg read from the guider
    auto = COMFY_SAMPLER_FUNCTIONS["sample_" + names.AUTO_SAMPLER_NAME]
    for cfg, flow in ((None, False), (1.0, False), (4.0, False), (7.0, False), (1.0, True), (5.0, True)):
        out[f"comfyui {names.AUTO_SAMPLER_NAME}, cfg {cfg}" + (", flow model" if flow else "")] = \
            lambda auto=auto, cfg=cfg, flow=flow: auto(guided_by(flow_model() if flow else ve_model(), cfg),
                                                       *(flow_start() if flow else ve_start()), {"seed": SEED},
                                                       disable=True)
    return out


def guided_by(model: Callable[..., torch.Tensor], cfg: float | None) -> Callable[..., torch.Tensor]:
    """`model` as ComfyUI hands it to a sampler function: KSamplerX0Inpaint's inner_model is the
    guider, whose `cfg` the auto name reads (None: a guider without one)."""
    def wrapper(x: torch.Tensor, sigma: torch.Tensor, **kw: object) -> torch.Tensor:
        return model(x, sigma, **kw)
    wrapper.inner_model = SimpleNamespace(**vars(getattr(model, "inner_model", SimpleNamespace())))
    if cfg is not None:
        wrapper.inner_model.cfg = cfg
    return wrapper


def guard_case(scheme: str, flow: bool) -> Callable[[], torch.Tensor]:
    def run() -> torch.Tensor:
        x, sigmas = flow_start() if flow else ve_start()
        sigmas = sigmas.clamp(max=0.9999) if flow else sigmas  # a flow schedule's first sigma must be below 1
        model = flow_model() if flow else ve_model()
        return sample_er_sde(model, x, sigmas, extra_args={"seed": SEED}, disable=True, scheme=scheme,
                             guidance_scale=7.0, noise_scale="reverse_sde",
                             alphas=1 - sigmas.double() if flow else None)
    return run


def auto_case(guidance: float, noise_scale: str, flow: bool) -> Callable[[], torch.Tensor]:
    def run() -> torch.Tensor:
        x, sigmas = flow_start() if flow else ve_start()
        sigmas = sigmas.clamp(max=0.9999) if flow else sigmas  # a flow schedule's first sigma must be below 1
        model = flow_model() if flow else ve_model()
        return sample_er_sde(model, x, sigmas, extra_args={"seed": SEED}, disable=True, scheme="auto",
                             guidance_scale=guidance, noise_scale=noise_scale,
                             alphas=1 - sigmas.double() if flow else None)
    return run


def compute() -> dict[str, list[float]]:
    return {name: run().flatten().tolist() for name, run in cases().items()}


def golden_file(version: str) -> Path:
    return HERE / f"golden_{version}.json"


def add_new_cases(version: str) -> list[str]:
    """Store the outputs of cases the golden file lacks; every stored output stays as it is."""
    path = golden_file(version)
    data = json.loads(path.read_text())
    every = cases()
    added = [name for name in every if name not in data["outputs"]]
    data["outputs"].update({name: every[name]().flatten().tolist() for name in added})
    path.write_text(json.dumps(data, indent=0) + "\n")
    return added


def is_policy_case(name: str) -> bool:
    """The cases of a policy name (scheme auto, ER-SDE-Solver Auto): pinned per release, not forever."""
    return "scheme auto" in name or f"{names.IN_SCHEME}={names.SCHEME_AUTO}" in name or names.AUTO_SAMPLER_NAME in name


def repin_policy_cases(version: str) -> list[str]:
    """Re-store the policy cases whose output changed; every other stored output stays as it is."""
    path = golden_file(version)
    data = json.loads(path.read_text())
    changed = []
    for name, run in cases().items():
        if is_policy_case(name):
            new = run().flatten().tolist()
            if data["outputs"].get(name) != new:
                data["outputs"][name] = new
                changed.append(name)
    path.write_text(json.dumps(data, indent=0) + "\n")
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("--write", "--add", "--repin"):
        sys.exit(__doc__)
    if sys.argv[1] == "--add":
        print("added:", ", ".join(add_new_cases(sys.argv[2])) or "nothing")
        sys.exit(0)
    if sys.argv[1] == "--repin":
        print("re-pinned:", ", ".join(repin_policy_cases(sys.argv[2])) or "nothing")
        sys.exit(0)
    path = golden_file(sys.argv[2])
    path.write_text(json.dumps({"shape": list(SHAPE), "seed": SEED, "outputs": compute()}, indent=0) + "\n")
    print(f"wrote {path}")
