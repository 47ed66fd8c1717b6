"""What a host relies on: one model call and one callback a step, the caller's latent left
alone, no host-device synchronisation in the loop, at most two earlier predictions held,
and half-precision latents that stay half precision."""
import gc
import weakref

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from k_diffusion_ext import sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser, ring_mixture


class RecordOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


def test_one_model_call_and_one_callback_per_step_with_k_diffusion_keys():
    calls, events = [], []
    model = lambda x, s, **extra: calls.append((s.clone(), extra)) or x * 0.5
    sigmas = karras_sigmas(7)
    sample_er_sde(model, torch.ones(3, 2), sigmas, extra_args={"seed": 4, "cond": "c"}, callback=events.append,
                  disable=True)
    assert len(calls) == 7 and [e["i"] for e in events] == list(range(7))
    assert set(events[0]) == {"x", "i", "sigma", "sigma_hat", "denoised"}
    for i, (s, extra) in enumerate(calls):
        assert s.shape == (3,) and torch.all(s == sigmas[i])
        assert extra == {"seed": 4, "cond": "c"}  # extra_args reach the model untouched


def test_the_callers_latent_is_not_modified():
    x = torch.randn(2, 4, 8, 8)
    kept = x.clone()
    sample_er_sde(lambda x, s: x * 0.9, x, karras_sigmas(5), disable=True)
    assert torch.equal(x, kept)


def test_no_scalar_reads_or_small_tensor_ops_inside_the_loop():
    """Every per-step scalar is precomputed: inside the loop only latent-sized ops run
    (the update: mul, then add_ for the current, previous and older predictions and the
    noise), never .item() (aten._local_scalar_dense)."""
    x = torch.randn(2, 4, 8, 8)
    noise = torch.zeros_like(x)
    model_call_at = []

    def model(x, s, **_):
        model_call_at.append(len(recorder.ops))
        return x * 0.9

    with RecordOps() as recorder:
        sample_er_sde(model, x, karras_sigmas(10, dtype=torch.float32), disable=True,
                      noise_sampler=lambda s, t: noise)
    loop_ops = recorder.ops[model_call_at[0]:]
    assert "aten._local_scalar_dense" not in loop_ops
    # a third-order step: the model's mul, the sigma row, then the update
    steady = recorder.ops[model_call_at[4]:model_call_at[5]]
    assert sorted(steady) == sorted(["aten.mul", "aten.select", "aten.mul"] + ["aten.add_"] * 4), steady


@pytest.mark.parametrize("order,most", [(1, 0), (2, 1), (3, 2)])
def test_only_the_earlier_predictions_the_order_needs_are_held(order, most):
    alive = []

    def model(x, s, **_):
        out = x * 0.9
        alive.append(weakref.ref(out))
        gc.collect()
        held = sum(r() is not None for r in alive[:-1])
        assert held <= most, f"order {order}: {held} earlier predictions still referenced at step {len(alive) - 1}"
        return out

    sample_er_sde(model, torch.randn(1, 4, 16, 16), karras_sigmas(8), order=order, disable=True, extra_args={"seed": 0})
    assert len(alive) == 8


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_latent_keeps_its_dtype_and_stays_finite(dtype):
    model = mixture_denoiser(ring_mixture(4, 2.0, dtype=torch.float32), 0.5)
    x = (torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * 80).to(dtype)
    out = sample_er_sde(lambda x, s, **_: model(x.float(), s).to(dtype), x, karras_sigmas(12, dtype=torch.float32),
                        disable=True, extra_args={"seed": 1})
    assert out.dtype == dtype and torch.isfinite(out).all()
    full = sample_er_sde(lambda x, s, **_: model(x, s), x.float(), karras_sigmas(12, dtype=torch.float32),
                         disable=True, extra_args={"seed": 1})
    assert (out.float() - full).abs().max() < 0.1


def test_progress_bar_follows_disable(capsys):
    sample_er_sde(lambda x, s: x, torch.zeros(1, 2), karras_sigmas(3), disable=False)
    shown = capsys.readouterr().err
    sample_er_sde(lambda x, s: x, torch.zeros(1, 2), karras_sigmas(3), disable=True)
    hidden = capsys.readouterr().err
    assert "3/3" in shown and hidden == ""
