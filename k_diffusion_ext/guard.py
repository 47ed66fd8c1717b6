"""The guard against blown-up samples under strong guidance: when it acts, and its range test."""
from __future__ import annotations

from typing import Sequence

import torch

from .auto_policy import noise_group

# The guard (applied in er_sde.er_sde_update and er_sde_correct; planned in
# coefficients.plan_steps), from a guidance scale of GUARD_MIN_GUIDANCE handed over. On a noisy plan
# (auto_policy.noise_group's heavy noise: the median step draws more than 0.6 of the reverse SDE's
# fresh noise; the reverse SDE, x^2.5, x^1.5 up to ~30 steps) a step of order >= 2 falls back, per batch item, to order 1 where its noise-free
# result leaves the range of its start and its predictions (elementwise, widened by GUARD_SLACK
# times that range), and the predictor-corrector scheme's corrector (order 1 included) is dropped
# for the items it takes out of the range of the predicted point and the predictions. On quieter
# plans the corrector alone is guarded, from GUARD_MIN_GUIDANCE_CORRECTOR: it feeds back the guided
# prediction at the predicted point, and order 3 at cfg 10 and 10 steps put 2 % of the samples out
# on the paper's noise scale where order 1 puts none (tests/solver/test_blowup.py); at cfg 3-6 it
# did not, and there the range test would drop it for 30-90 % of a learned model's items in the late
# steps (the digits models), turning the scheme into the corrected one. Strong guidance makes the
# predictions jump between steps and the extrapolation carries the jump on: on an exact guided
# mixture that put 2-45 % of the samples beyond twice the data's range at 10-20 steps on noisy
# plans, from guidance 4 (3.99: 3.9 %; 3.5: 1.2 %; 3: 0.8 %; x^2.5 at 3 with the corrector: 1.6 %).
# The corrected and reference schemes on the ODE, the paper's noise scale and the other quieter
# plans did not blow up at any guidance up to 10: no guard there, and none without a guidance scale
# or below 3. Where nothing leaves the range the guarded output is the unguarded one bit for bit.
# The order-1 step stays within that range by construction.
GUARD_MIN_GUIDANCE = 3.0
GUARD_MIN_GUIDANCE_CORRECTOR = 8.0  # the corrector on quiet plans (noisy plans: GUARD_MIN_GUIDANCE)
GUARD_SLACK = 0.1


def guarded_parts(guidance_scale: float | None, corrector: bool, noise_shares: Sequence[float]) -> tuple[bool, bool]:
    """(guard the predictor of order >= 2 steps, guard the corrector) for a plan with this guidance
    scale, scheme (corrector: predictor_corrector) and per-step noise shares (coefficients._noise_shares;
    computed where guidance_scale >= GUARD_MIN_GUIDANCE)."""
    if guidance_scale is None or guidance_scale < GUARD_MIN_GUIDANCE:
        return False, False
    noisy = noise_group(noise_shares) == "reverse_sde"
    return noisy, corrector and (noisy or guidance_scale >= GUARD_MIN_GUIDANCE_CORRECTOR)


def leaves_range(y: torch.Tensor, *points: torch.Tensor | None) -> torch.Tensor:
    """The guard's test, per batch item (shape B x 1 x ...): does any element of y leave the range
    of the points (elementwise min to max) widened by GUARD_SLACK times that range on both sides?
    No host-device sync; a fixed handful of operators whatever the number of points (one stack and
    one aminmax, at the price of a stacked copy of the points while it runs)."""
    low, high = torch.aminmax(torch.stack([p for p in points if p is not None]), dim=0)
    # y leaves [low - s w, high + s w] (w = high - low) iff |2 y - (low + high)| > (1 + 2 s) w
    centre = torch.add(low, high)
    width = high.sub_(low)
    outside = torch.sub(y, centre, alpha=0.5).abs_().gt_(width.mul_(0.5 + GUARD_SLACK))
    return outside.any(dim=tuple(range(1, y.ndim)), keepdim=True) if y.ndim > 1 else outside
