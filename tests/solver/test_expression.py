"""Custom noise-scale expressions come from shared workflows: parsed by a whitelist, never eval'd."""
import pytest
import torch

from k_diffusion_ext import NOISE_SCALES, parse_noise_scale, sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas
from k_diffusion_ext.expression import MAX_LENGTH

LAMBDAS = torch.tensor([0.01, 0.5, 1.0, 14.6, 80.0], dtype=torch.float64)


@pytest.mark.parametrize("expression,name", [
    ("x * (exp(x**0.3) + 10)", "paper_default"),
    ("x", "ode"),
    ("x ** 2", "reverse_sde"),
    ("x*(exp(-1/x)+10)", "exp_neg_inv"),
    ("x**0.9 * log10(1 + 100 * x**1.5)", "log_mix"),
    ("sqrt(x)**3", "power_1.5"),
])
def test_expression_equals_the_named_noise_scale(expression, name):
    torch.testing.assert_close(parse_noise_scale(expression)(LAMBDAS), NOISE_SCALES[name](LAMBDAS))


def test_constants_unary_minus_and_functions_evaluate():
    phi = parse_noise_scale("-(-x) * e ** 0 + pi - pi + abs(-1) * tanh(x) * 0 + log(exp(2)) / 2 - 1")
    torch.testing.assert_close(phi(LAMBDAS), LAMBDAS)


def test_sampling_with_an_expression_string_equals_the_named_scale():
    model = lambda x, s, **_: x * 0.3
    x = torch.randn(2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 80
    a = sample_er_sde(model, x, karras_sigmas(8), noise_scale="x * (exp(x**0.3) + 10)", extra_args={"seed": 1}, disable=True)
    b = sample_er_sde(model, x, karras_sigmas(8), noise_scale="paper_default", extra_args={"seed": 1}, disable=True)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("expression,reason", [
    ("__import__('os').system('echo pwned')", "attribute access"),
    ("__import__('os')", "not an allowed function"),
    ("x.__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access|not allowed"),
    ("exp.__globals__", "attribute access"),
    ("open('/etc/passwd')", "not an allowed function"),
    ("eval('1')", "not an allowed function"),
    ("x if x > 1 else 2", "IfExp is not allowed"),
    ("lambda: 1", "Lambda is not allowed"),
    ("[x for x in ()]", "not allowed"),
    ("x; import os", "not a valid formula"),
    ("import os", "not a valid formula"),
    ("x % 2", "not allowed"),
    ("'text'", "is not a number"),
    ("True * x", "is not a number"),
    ("1j * x", "is not a number"),
    ("y * 2", "unknown name 'y'"),
    ("exp(x, 2)", "exactly one argument"),
    ("exp(x=2)", "exactly one argument"),
    ("", "empty"),
])
def test_unsafe_or_invalid_expression_is_refused(expression, reason):
    with pytest.raises(ValueError, match=reason):
        parse_noise_scale(expression)


def test_huge_input_is_refused_before_parsing():
    with pytest.raises(ValueError, match=f"limit is {MAX_LENGTH}"):
        parse_noise_scale("x+" * 10_000 + "x")


def test_redundant_parentheses_are_fine():
    torch.testing.assert_close(parse_noise_scale("(" * 100 + "x" + ")" * 100)(LAMBDAS), LAMBDAS)


@pytest.mark.parametrize("expression", ["exp(" * 40 + "x" + ")" * 40, "-" * 250 + "x", "(" * 127 + "x" + ")" * 128])
def test_deep_nesting_is_refused_not_crashing(expression):
    with pytest.raises(ValueError, match="too complex|not a valid formula"):
        parse_noise_scale(expression)


def test_overflowing_expression_is_caught_by_the_constraint_check():
    model = lambda x, s, **_: x
    with pytest.raises(ValueError, match="finite and > 0"):
        sample_er_sde(model, torch.zeros(1, 2), karras_sigmas(4), noise_scale="x * 10**10**10", disable=True)
