"""The CFG++ benchmark's pieces: our CFG++ sampler on the guided digits model (one call a step,
the host-free uncond path), and the equal-accuracy comparison."""
from __future__ import annotations

import pytest
import torch


@pytest.mark.parametrize("space", ["edm", "flow"])
def test_er_sde_cfg_pp_on_the_guided_digits_model_one_call_a_step(space):
    from bench.cfg_pp import ours_cfg_pp
    from bench.models.labelled import load_labelled
    from bench.samplers import CountingModel, ours, sigmas_for
    m = load_labelled(space)
    guided = m.guided(torch.arange(20) % 10, 1.0)
    sigmas = sigmas_for(space, 10)
    x = torch.randn(20, 64, generator=torch.Generator().manual_seed(0)) * sigmas[0]
    counted = CountingModel(guided)
    out = ours_cfg_pp(3)(counted, x, sigmas, 5, space)
    assert counted.calls == 10 and torch.isfinite(out).all()
    plain = ours(3)(CountingModel(guided), x, sigmas, 5, space)
    assert (out - plain).abs().max() > 1e-2, "CFG++ did not change the samples: the uncond hook is not used"


def test_best_fid_at_accuracy_takes_the_lowest_fid_at_or_above_the_level():
    from bench.cfg_pp import best_fid_at_accuracy
    curve = [(0.5, 10.0), (0.9, 4.0), (1.0, 2.0), (1.0, 6.0)]
    assert best_fid_at_accuracy(curve, 0.7) == pytest.approx(2.0)
    assert best_fid_at_accuracy(curve, 0.95) == pytest.approx(2.0)
    assert best_fid_at_accuracy([(0.5, 10.0), (0.9, 4.0)], 0.7) == pytest.approx(4.0)
    assert best_fid_at_accuracy([(0.5, 3.0), (0.9, 8.0)], 0.7) == pytest.approx(5.5)  # on the segment
    assert best_fid_at_accuracy([(0.5, 10.0), (0.9, 4.0)], 0.95) is None
