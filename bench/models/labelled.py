"""Class-conditional digits denoisers for guided sampling: an EDM (variance-exploding) one and
a flow-matching one (rectified flow, ComfyUI's CONST: x_t = (1 - sigma) x0 + sigma eps).

Both were trained with label dropout (10 % of the labels replaced by NULL_LABEL), so one net
gives the conditional and the unconditional prediction, and classifier-free guidance is

    D_w(x, sigma, y) = D(x, sigma, NULL) + w (D(x, sigma, y) - D(x, sigma, NULL)).

Usage (k-diffusion convention: a model maps (x, sigma) to the denoised x0; for the flow
model x lives on the alpha = 1 - sigma path and sigma in (0, 1)):

    from bench.models.labelled import load_labelled
    m = load_labelled("edm")                    # or "flow"; eval mode, no gradients
    labels = torch.arange(n) % 10
    m.cond(x, sigma, labels)                    # D(x, sigma, y)
    m.uncond(x, sigma)                          # D(x, sigma, NULL)
    g = m.guided(labels, w=3.0)                 # the shared CFG wrapper, a sampler's model
    x0 = g(x, sigma)                            # D_w; g.last_uncond holds D(x, sigma, NULL)
    x0, x0_uncond = g.both(x, sigma)            # both from one batched net call
    m.alphas(sigmas)                            # None (EDM) or 1 - sigmas (flow)

Schedules: bench.samplers.edm_sigmas(steps) and bench.samplers.flow_sigmas(steps) (SD3's
shift 3); ComfyUI's model_sampling objects for both: bench.samplers.comfy_module().
Wrap a model as bench.samplers._ComfyModel(model, comfy.model_sampling or comfy.flow_sampling)
to call ComfyUI's samplers (the *_cfg_pp ones included) on it.

`CFG` also answers ComfyUI's `model_options["sampler_post_cfg_function"]` hooks (what
ComfyUI's *_cfg_pp samplers use to read the unconditional prediction) when called through
bench.samplers' ComfyUI adapter. Weights: bench/models/weights/labelled_{edm,flow}.pt,
trained by `python -m bench.models.train_labelled --param edm|flow` (deterministic, a few
minutes on one core).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .digits import DIM

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
NULL_LABEL = 10  # the "no label" class the label dropout trains
PARAMS = ("edm", "flow")


def weights_path(param: str) -> Path:
    if param not in PARAMS:
        raise ValueError(f"param must be one of {PARAMS}, got {param!r}")
    return WEIGHTS_DIR / f"labelled_{param}.pt"


class LabelledDigitsDenoiser(nn.Module):
    """Residual MLP F(c_in x, c_noise, label) behind one of two parametrisations:

    - "edm": D = c_skip x + c_out F (Karras et al. 2022), sigma in (0, inf);
    - "flow": F predicts the velocity v = eps - x0 of x_t = (1 - sigma) x0 + sigma eps and
      D = x - sigma F (ComfyUI's CONST model_sampling), sigma in (0, 1).
    """

    def __init__(self, param: str = "edm", hidden: int = 256, blocks: int = 3, fourier: int = 32,
                 sigma_data: float = 0.75):
        super().__init__()
        if param not in PARAMS:
            raise ValueError(f"param must be one of {PARAMS}, got {param!r}")
        self.param, self.sigma_data = param, sigma_data
        self.register_buffer("freqs", math.pi * torch.linspace(0.25, 16.0, fourier // 2))
        self.embed = nn.Sequential(nn.Linear(fourier + 1, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.label = nn.Embedding(NULL_LABEL + 1, hidden)
        self.inp = nn.Linear(DIM, hidden)
        self.norms = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(blocks)])
        self.layers = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(blocks)])
        self.out = nn.Linear(hidden, DIM)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _features(self, x: torch.Tensor, c_in: torch.Tensor, c_noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # samplers call with one noise level for the whole batch: embed it once
        one = bool((c_noise == c_noise[:1]).all())
        level = c_noise[:1] if one else c_noise
        angles = level * self.freqs
        emb = self.embed(torch.cat([level, angles.sin(), angles.cos()], dim=1)) + self.label(labels)
        h = self.inp(c_in * x) + emb
        for norm, layer in zip(self.norms, self.layers):
            h = h + layer(nn.functional.silu(norm(h)))
        return self.out(nn.functional.silu(h))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The denoised x0 (both parametrisations)."""
        dtype = x.dtype
        x32 = x.float()
        sigma = sigma.float().reshape(-1, 1).expand(x.shape[0], 1)
        labels = labels.to(x.device).reshape(-1).expand(x.shape[0])
        sd2 = self.sigma_data ** 2
        if self.param == "edm":
            total = sigma * sigma + sd2
            c_skip, c_out, c_in = sd2 / total, sigma * self.sigma_data / total.sqrt(), total.rsqrt()
            out = c_skip * x32 + c_out * self._features(x32, c_in, sigma.log() / 4, labels)
        else:
            c_in = ((1 - sigma) ** 2 * sd2 + sigma ** 2).rsqrt()
            logit = (sigma / (1 - sigma)).log()  # = log of the VE sigma of the same noise level
            out = x32 - sigma * self._features(x32, c_in, logit / 4, labels)
        return out.to(dtype)


class CFG:
    """Classifier-free guidance, the one wrapper every sampler of the benchmarks gets:
    a k-diffusion model (x, sigma, **extra) -> D_w. One call is one NFE (the conditional and
    unconditional predictions come from one batched net evaluation)."""

    def __init__(self, net: LabelledDigitsDenoiser, labels: torch.Tensor, scale: float):
        self.net, self.labels, self.scale = net, labels.reshape(-1), float(scale)
        self.last_uncond: torch.Tensor | None = None
        self.last_cond: torch.Tensor | None = None

    def both(self, x: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(D_w, D_uncond) from one batched call."""
        n = x.shape[0]
        sigma = sigma.reshape(-1).expand(n) if sigma.numel() in (1, n) else sigma
        null = torch.full_like(self.labels, NULL_LABEL)
        with torch.no_grad():
            out = self.net(torch.cat([x, x]), torch.cat([sigma, sigma]), torch.cat([self.labels, null]))
        cond, uncond = out[:n], out[n:]
        self.last_cond, self.last_uncond = cond, uncond
        return uncond + self.scale * (cond - uncond), uncond

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        return self.both(x, sigma)[0]


class LabelledModel:
    """A loaded class-conditional denoiser with the calls a benchmark needs."""

    def __init__(self, net: LabelledDigitsDenoiser):
        self.net = net
        self.param = net.param

    def cond(self, x: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x, sigma, labels)

    def uncond(self, x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x, sigma, torch.full((x.shape[0],), NULL_LABEL, dtype=torch.long))

    def guided(self, labels: torch.Tensor, w: float) -> CFG:
        return CFG(self.net, labels, w)

    def alphas(self, sigmas: torch.Tensor) -> torch.Tensor | None:
        """What sample_er_sde's `alphas` needs: None for EDM, 1 - sigma on the flow path."""
        return None if self.param == "edm" else 1 - sigmas

    def start(self, noise: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
        """The first latent, sigma_0 * noise for both (ComfyUI's noise_scaling of an empty latent;
        on the flow path the (1 - sigma_0) x0 part is dropped as ComfyUI does)."""
        return noise * sigmas[0]


def load_labelled(param: str = "edm", path: Path | str | None = None) -> LabelledModel:
    state = torch.load(path or weights_path(param), map_location="cpu", weights_only=True)
    net = LabelledDigitsDenoiser(**state["config"])
    net.load_state_dict(state["net"])
    net.eval().requires_grad_(False)
    return LabelledModel(net)


Model = Callable[..., torch.Tensor]
