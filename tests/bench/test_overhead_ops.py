"""bench.overhead's operator counts: what the predictor-corrector scheme and scheme auto cost a step."""
import pytest
import torch

from bench.overhead import AUTO_GUIDANCE, AUTO_STEPS, auto_pick, op_counts, plan_sampler

# the count does not depend on the latent's size: a small one keeps the profiled runs quick
LATENT = (1, 4, 8, 8)


@pytest.mark.parametrize("noise_scale", ["paper_default", "ode"])
@pytest.mark.parametrize("order", [1, 2, 3])
def test_the_corrector_costs_only_its_latent_additions_a_step(noise_scale, order):
    # the corrector adds order + 1 weighted predictions to the predicted latent: any more operators
    # a step (e.g. the plan building its weights with tensors step by step) is cost a user pays
    x = torch.randn(LATENT) * 80
    corrected = op_counts(plan_sampler(noise_scale, "corrected", order), x, 5)[0]
    predictor_corrector = op_counts(plan_sampler(noise_scale, "predictor_corrector", order), x, 5)[0]
    assert predictor_corrector - corrected <= order + 1


@pytest.mark.parametrize("noise_scale", ["paper_default", "ode"])
def test_the_auto_rows_cover_every_pick_at_a_fixed_pick(noise_scale):
    # each auto row counts between n - 1 and n steps: the pick must be the same at both, and the rows
    # together must show every order and scheme auto runs with this noise scale
    picks = set()
    for guidance in AUTO_GUIDANCE:
        for steps in AUTO_STEPS:
            pick = auto_pick(noise_scale, guidance, steps)
            assert auto_pick(noise_scale, guidance, steps - 1) == pick
            picks.add(pick)
    expected = {"PC-3", "ER-1", "ER-2", "PC-1"} | ({"ER-3", "PC-2"} if noise_scale == "ode" else set())
    assert picks == expected
