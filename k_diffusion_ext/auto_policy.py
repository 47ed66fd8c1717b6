"""Scheme "auto" (ER-SDE-Solver Auto): the order and scheme for a plan, read from a table.

The table is measured, not reasoned: bench.auto_policy runs every fixed setting (orders 1-3, the
`corrected`, `reference` and `predictor_corrector` schemes) on every benchmark family (EDM and
flow digits models, the exact guided mixture on both paths, the unguided mixture and digits
model) and picks, in each cell of noise group x cfg x steps, the setting whose worst ratio to each
family's best is smallest, never worse than the dropdown default (order 3 `corrected`) or, with
the paper's noise, ComfyUI's er_sde (order 3 `reference`) beyond the start sets' spread, and the
lower order where the families cannot tell two apart. `python -m bench.auto_policy derive`
prints this table from bench/results/auto_policy; tests/solver/test_auto_policy.py checks that
they agree. Protocol, numbers and what each family wanted: docs/guidance.md#er-sde-solver-auto.

A plan is read as its noise group (the median step's fresh noise against the reverse SDE's: 0
the ODE, up to NOISY_SHARE light noise such as the paper's scale, above it the reverse SDE),
its guidance scale (the cfg the host applies) and its step count (model calls). Between the
measured values the nearest one counts, in log scale; beyond them the end ones.
"""
from __future__ import annotations

import math
from typing import Sequence

NOISY_SHARE = 0.6
# noise group -> cfg -> the setting per STEPS entry ("3 PC": order 3, predictor_corrector;
# "3 reference": order 3, the paper's scheme; "2": order 2, corrected); UNKNOWN_GUIDANCE: the cfg
# is unknown (a guider without one, CFG++), the same rule over cfg 1-10. Written by
# `python -m bench.auto_policy derive` (bench/results/auto_policy, 2026-12-08).
STEPS = (10, 14, 20, 30, 50)
TABLE: dict[str, dict[float, tuple[str, ...]]] = {
    "ode": {
        1.0: ('3 PC', '3 PC', '3 PC', '3 PC', '3 PC'),
        2.0: ('3 PC', '3 PC', '3 PC', '2 PC', '3 PC'),
        3.0: ('2 PC', '3 PC', '3 PC', '2 PC', '3 PC'),
        4.5: ('3', '2 PC', '2 PC', '2 PC', '3 PC'),
        6.0: ('3', '3', '3', '3', '2 PC'),
        8.0: ('2', '2', '2 PC', '2 PC', '3'),
        10.0: ('2', '2 PC', '2 PC', '2 PC', '2 PC'),
        12.0: ('2', '2', '2 PC', '2 PC', '2 PC'),
    },
    "paper": {
        1.0: ('2 PC', '2 PC', '1 PC', '1 PC', '1 PC'),
        2.0: ('2 PC', '2 PC', '1 PC', '1 PC', '1 PC'),
        3.0: ('2', '1 PC', '1 PC', '1 PC', '1 PC'),
        4.5: ('1 PC', '1 PC', '1 PC', '1', '1 PC'),
        6.0: ('1 PC', '1 PC', '1 PC', '1 PC', '1 PC'),
        8.0: ('2', '1 PC', '1 PC', '1', '1'),
        10.0: ('1', '1', '1 PC', '1', '1 PC'),
        12.0: ('1', '1', '1', '1', '1 PC'),
    },
    "reverse_sde": {
        1.0: ('2 PC', '2 PC', '1 PC', '1 PC', '1 PC'),
        2.0: ('2 PC', '2 PC', '2', '1 PC', '1 PC'),
        3.0: ('2 PC', '2 PC', '2 PC', '2', '1 PC'),
        4.5: ('1 PC', '2', '2 PC', '1 PC', '1 PC'),
        6.0: ('1', '1', '1 PC', '1', '1 PC'),
        8.0: ('1', '1', '1', '1', '1'),
        10.0: ('1', '1', '1', '1', '1 PC'),
        12.0: ('1', '1', '1', '1 PC', '1 PC'),
    },
}
UNKNOWN_GUIDANCE: dict[str, tuple[str, ...]] = {
    "ode": ('3', '3', '3', '3', '3'),
    "paper": ('2', '3 reference', '1 PC', '1 PC', '1 PC'),
    "reverse_sde": ('3 reference', '2', '3', '2', '2'),
}
SCHEME_OF = {"": "corrected", "PC": "predictor_corrector", "reference": "reference"}


def setting(label: str) -> tuple[int, str]:
    """"3 PC" -> (3, "predictor_corrector")."""
    order, _, scheme = label.partition(" ")
    return int(order), SCHEME_OF[scheme]


def noise_group(noise_shares: Sequence[float]) -> str:
    """"ode" (no noise drawn), "paper" (light noise) or "reverse_sde" (the median step draws more
    than NOISY_SHARE of the reverse SDE's fresh noise)."""
    shares = sorted(noise_shares)
    if not any(shares):
        return "ode"
    return "reverse_sde" if shares[len(shares) // 2] > NOISY_SHARE else "paper"


def _nearest(values: Sequence[float], x: float) -> int:
    """The index of the value nearest x in log scale (x clamped to the values' range)."""
    x = min(max(x, values[0]), values[-1])
    return min(range(len(values)), key=lambda k: abs(math.log(values[k] / x)))


def choose(group: str, guidance_scale: float | None, steps: int) -> str:
    """The table's label for a noise group, guidance scale (None: unknown) and step count."""
    column = _nearest(STEPS, steps)
    if guidance_scale is None:
        return UNKNOWN_GUIDANCE[group][column]
    scales = sorted(TABLE[group])
    return TABLE[group][scales[_nearest(scales, guidance_scale)]][column]


def auto_choice(guidance_scale: float | None, noise_shares: Sequence[float], order: int) -> tuple[int, str]:
    """(order, scheme) for scheme "auto": the table's setting for the plan's noise group, guidance
    scale (None: unknown) and step count (len(noise_shares) + 1: the steps down to a positive sigma
    and the final one). The order never exceeds `order`; capping it keeps the scheme."""
    chosen, scheme = setting(choose(noise_group(noise_shares), guidance_scale, len(noise_shares) + 1))
    return min(order, chosen), scheme
