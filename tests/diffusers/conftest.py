"""What the diffusers tests share."""
from __future__ import annotations

import numpy as np
import pytest


def _assert_dpm_s_timesteps(ours, dpm) -> None:
    """ours.timesteps are dpm.timesteps, to the integer. One known exception: under numpy 2, DPM computes
    exponential / beta (and cosine-Karras) sigmas in float32 and truncates the first one's timestep,
    sigma_max's 999, to 998; ours (float64) stays 999 (docs/diffusers.md, Config keys)."""
    mine, theirs = ours.timesteps.tolist(), dpm.timesteps.tolist()
    last = ours.config.num_train_timesteps - 1
    if mine[0] == last and theirs[0] == last - 1 and int(np.__version__.split(".")[0]) >= 2:
        mine, theirs = mine[1:], theirs[1:]
    assert mine == theirs


@pytest.fixture
def assert_dpm_s_timesteps():
    return _assert_dpm_s_timesteps
