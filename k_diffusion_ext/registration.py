"""Put the ER-SDE samplers on a k-diffusion-like `sampling` module under their released names."""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import torch

from .er_sde import sample_er_sde


def _fixed_order(order: int) -> Callable[..., torch.Tensor]:
    def sampler(model: Callable[..., torch.Tensor], x: torch.Tensor, sigmas: torch.Tensor,
                extra_args: dict | None = None, callback: Callable[[dict], Any] | None = None,
                disable: bool | None = None, **options: Any) -> torch.Tensor:
        return sample_er_sde(model, x, sigmas, extra_args, callback, disable, order=order, **options)

    sampler.__name__ = sampler.__qualname__ = f"sample_er_sde_solver_{order}"
    sampler.__doc__ = f"ER-SDE-Solver-{order} with the paper's default noise scale. See sample_er_sde."
    return sampler


def sample_er_sde_solver_auto(model: Callable[..., torch.Tensor], x: torch.Tensor, sigmas: torch.Tensor,
                              extra_args: dict | None = None, callback: Callable[[dict], Any] | None = None,
                              disable: bool | None = None, *, guidance_scale: float | None = None,
                              **options: Any) -> torch.Tensor:
    """ER-SDE-Solver Auto: the order (at most 3) and scheme that measured safest for the guidance
    scale and the plan (auto_policy.auto_choice), with the paper's default noise scale.

    guidance_scale: the classifier-free guidance scale the model applies (1 for unguided or
    guidance-distilled models); a host adapter reads it from the host (ComfyUI's guider, the
    WebUIs' cond_scale). None (unknown) takes the choice that is safest across scales."""
    return sample_er_sde(model, x, sigmas, extra_args, callback, disable, order=3, scheme="auto",
                         guidance_scale=guidance_scale, **options)


# Released names: they are stored in workflows and image metadata, never rename them.
SAMPLER_FUNCTIONS: dict[str, Callable[..., torch.Tensor]] = {
    **{f"sample_er_sde_solver_{order}": _fixed_order(order) for order in (1, 2, 3)},
    "sample_er_sde_solver_auto": sample_er_sde_solver_auto,  # added in 0.3.0
}
for _name, _fn in SAMPLER_FUNCTIONS.items():
    globals()[_name] = _fn


def register(module: ModuleType) -> ModuleType:
    """Set sample_er_sde_solver_1/2/3 and _auto on a k-diffusion `sampling` module; idempotent, touches
    nothing else."""
    for name, fn in SAMPLER_FUNCTIONS.items():
        setattr(module, name, fn)
    return module
