"""bench.overhead's operator counts: what the predictor-corrector scheme and scheme auto cost a step."""
import pytest
import torch

from bench.overhead import auto_cells, auto_pick, op_counts, plan_sampler

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
def test_the_auto_rows_cover_every_setting_the_table_names(noise_scale):
    # each auto row counts between n - 1 and n steps: the pick must be the same at both, and the rows
    # together must show every order and scheme auto runs with this noise scale
    from k_diffusion_ext.auto_policy import TABLE, UNKNOWN_GUIDANCE, setting
    group = {"ode": "ode", "paper_default": "paper"}[noise_scale]
    names = {"corrected": "ER", "predictor_corrector": "PC", "reference": "REF"}
    expected = {f"{names[scheme]}-{order}" for order, scheme in
                (setting(label) for row in list(TABLE[group].values()) + [UNKNOWN_GUIDANCE[group]] for label in row)}
    picks = set()
    for guidance, steps in auto_cells(noise_scale):
        pick = auto_pick(noise_scale, guidance, steps)
        assert auto_pick(noise_scale, guidance, steps - 1) == pick
        picks.add(pick)
    assert picks == expected


def test_the_guard_costs_a_guarded_step_at_most_a_dozen_operators():
    # from cfg 8 the predictor-corrector's corrector is guarded on quiet plans: its range test and the
    # fallback are latent-sized operators the user pays every step
    x = torch.randn(LATENT) * 80
    for noise_scale in ("paper_default", "ode"):
        plain = op_counts(plan_sampler(noise_scale, "predictor_corrector", 3), x, 5)[0]
        guarded = op_counts(plan_sampler(noise_scale, "predictor_corrector", 3, 10.0), x, 5)[0]
        assert 0 < guarded - plain <= 12, f"{noise_scale}: the guard costs {guarded - plain} operators a step"
