"""Bad input gets a ValueError whose sentence names the problem."""
import math

import pytest
import torch

from k_diffusion_ext import sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas

model = lambda x, s, **_: x * 0.5
x = torch.zeros(2, 3)


def run(sigmas=None, **options):
    return sample_er_sde(model, x, karras_sigmas(5) if sigmas is None else sigmas, disable=True, **options)


@pytest.mark.parametrize("sigmas,message", [
    (torch.tensor([10.0, float("nan"), 0.0]), r"finite.*sigmas\[1\] = nan"),
    (torch.tensor([10.0, float("inf"), 0.0]), r"finite"),
    (torch.tensor([1.0, 2.0, 0.0]), r"must not increase.*sigmas\[0\] = 1 is followed by sigmas\[1\] = 2"),
    (torch.tensor([1.0, -0.5]), r">= 0.*sigmas\[1\] = -0.5"),
    (torch.tensor([[1.0, 0.0]]), r"1-D"),
    (torch.tensor([1.0]), r"at least 2 entries"),
    (torch.tensor([]), r"at least 2 entries"),
    ([1.0, 0.0], r"torch tensor"),
])
def test_bad_sigmas_are_refused_with_the_reason(sigmas, message):
    with pytest.raises(ValueError, match=message):
        run(sigmas)


@pytest.mark.parametrize("order", [0, 4, 2.5, "3"])
def test_order_outside_1_to_3_is_refused(order):
    with pytest.raises(ValueError, match="order must be 1, 2 or 3"):
        run(order=order)


def test_unknown_noise_scale_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown noise scale 'paper_defualt'.*paper_default.*reverse_sde"):
        run(noise_scale="paper_defualt")


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown scheme 'exact'.*corrected, reference"):
        run(scheme="exact")


@pytest.mark.parametrize("eta", [-0.1, math.nan, math.inf])
def test_negative_or_non_finite_eta_is_refused(eta):
    with pytest.raises(ValueError, match="eta must be a finite number >= 0"):
        run(eta=eta)


@pytest.mark.parametrize("s_noise", [-1.0, math.nan])
def test_negative_s_noise_is_refused(s_noise):
    with pytest.raises(ValueError, match="s_noise must be a finite number >= 0"):
        run(s_noise=s_noise)


def test_noise_scale_breaking_the_constraint_names_the_first_lambda():
    # phi(x)/x = x^-0.5 decreases everywhere: negative noise variance
    sigmas = torch.tensor([8.0, 4.0, 2.0, 0.0])
    with pytest.raises(ValueError, match=r"phi\(x\)/x non-decreasing.*at lambda = 2 to .* at lambda = 4"):
        run(sigmas, noise_scale=lambda l: l ** 0.5)


def test_expression_breaking_the_constraint_is_refused():
    with pytest.raises(ValueError, match="phi\\(x\\)/x non-decreasing"):
        run(noise_scale="x * (exp(-x) + 1)")


@pytest.mark.parametrize("phi,message", [
    (lambda l: -l, r"> 0.*phi\("),
    (lambda l: l * float("nan"), r"finite"),
    (lambda l: torch.ones(7, dtype=torch.float64), r"one value per lambda"),
])
def test_noise_scale_that_is_not_positive_and_finite_is_refused(phi, message):
    with pytest.raises(ValueError, match=message):
        run(noise_scale=phi)


def test_a_crashing_noise_scale_callable_becomes_a_value_error():
    def broken(l):
        raise ZeroDivisionError("boom")
    with pytest.raises(ValueError, match="noise scale function failed.*boom"):
        run(noise_scale=broken)


def test_flow_schedule_starting_at_sigma_one_asks_for_the_nudge():
    sigmas = torch.tensor([1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match=r"alphas\[0\] = 0.*nudge the first sigma just below 1"):
        run(sigmas, alphas=1 - sigmas)


def test_alphas_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="one entry per sigma"):
        run(alphas=torch.ones(3))


def test_refused_input_never_calls_the_model():
    calls = []
    with pytest.raises(ValueError):
        sample_er_sde(lambda x, s: calls.append(1) or x, x, torch.tensor([1.0, 2.0]), disable=True)
    assert not calls
