"""Both nodes run through ComfyUI's executor (validate_prompt + PromptExecutor) on small graphs,
in the V3 form ComfyUI loads and in the classic form older hosts get; bad input is
reported on the node, with a sentence that says what to change."""
from __future__ import annotations

import asyncio
import importlib

import pytest
import torch

TEST_MODEL, CAPTURE = "ERSDETest_TinyModel", "ERSDETest_Capture"


class _Server:
    """The executor's link to the browser; these tests read executor.status_messages instead."""
    client_id = None
    last_node_id = None
    last_prompt_id = None

    def send_sync(self, event, data, sid=None):
        pass


@pytest.fixture(scope="module")
def graph_nodes(host, tiny_models, conds):
    """Two test-only nodes: a tiny model with conditioning, and an output node that keeps latents."""
    captured = {}

    class TinyModel:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"kind": (["eps", "v", "flow"],)}}
        RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING")
        FUNCTION = "load"
        CATEGORY = "testing"

        def load(self, kind):
            return tiny_models[kind], conds[0], conds[1]

    class Capture:
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"samples": ("LATENT",)}, "hidden": {"unique_id": "UNIQUE_ID"}}
        RETURN_TYPES = ()
        FUNCTION = "keep"
        OUTPUT_NODE = True
        CATEGORY = "testing"

        def keep(self, samples, unique_id):
            captured[unique_id] = samples["samples"].clone()
            return {}

    host.nodes.NODE_CLASS_MAPPINGS[TEST_MODEL] = TinyModel
    host.nodes.NODE_CLASS_MAPPINGS[CAPTURE] = Capture
    yield captured
    del host.nodes.NODE_CLASS_MAPPINGS[TEST_MODEL], host.nodes.NODE_CLASS_MAPPINGS[CAPTURE]


@pytest.fixture(params=["v3", "classic"])
def node_style(request, host, monkeypatch):
    if request.param == "classic":
        classic = importlib.import_module(host.ersde.__name__ + ".nodes_classic")
        for node_id, cls in classic.NODE_CLASS_MAPPINGS.items():
            monkeypatch.setitem(host.nodes.NODE_CLASS_MAPPINGS, node_id, cls)
    return request.param


def execute(host, prompt):
    import execution
    valid, error, outputs, node_errors = asyncio.run(execution.validate_prompt("test", prompt, None))
    assert valid, f"ComfyUI rejected the graph: {error} {node_errors}"
    executor = host.prompt_executor(_Server())
    executor.execute(prompt, "test", {}, outputs)
    return {event: data for event, data in executor.status_messages}


ER_SDE = {"order": 3, "noise_scale": "paper_default", "custom_noise_scale": "x * (exp(x**0.3) + 10)",
          "eta": 1.0, "s_noise": 1.0, "noise_type": "gaussian", "scheme": "corrected"}


def base(kind="eps"):
    return {
        "1": {"class_type": TEST_MODEL, "inputs": {"kind": kind}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
    }


def ksampler_er_sde(node_id="3", denoise=1.0, **er_sde):
    return {node_id: {"class_type": "KSamplerERSDE", "inputs": {
        "model": ["1", 0], "seed": 3, "steps": 4, "cfg": 3.0, "scheduler": "normal", "positive": ["1", 1],
        "negative": ["1", 2], "latent_image": ["2", 0], "denoise": denoise, **(ER_SDE | er_sde)}}}


def sampler_custom(sampler_ref, node_id="7"):
    return {
        "6": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "karras", "steps": 4,
                                                         "denoise": 1.0}},
        node_id: {"class_type": "SamplerCustom", "inputs": {
            "model": ["1", 0], "add_noise": True, "noise_seed": 3, "cfg": 3.0, "positive": ["1", 1],
            "negative": ["1", 2], "sampler": sampler_ref, "sigmas": ["6", 0], "latent_image": ["2", 0]}},
    }


def capture(node_id, source):
    return {node_id: {"class_type": CAPTURE, "inputs": {"samples": [source, 0]}}}


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_ksampler_er_sde_node_equals_stock_ksampler_with_er_sde_solver_3(host, graph_nodes, node_style, kind):
    prompt = base(kind) | ksampler_er_sde() | capture("4", "3") | {
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": 3, "steps": 4, "cfg": 3.0, "sampler_name": "er_sde_solver_3",
            "scheduler": "normal", "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["2", 0],
            "denoise": 1.0}}} | capture("6", "5")
    messages = execute(host, prompt)
    assert "execution_success" in messages, messages.get("execution_error")
    ours, stock = graph_nodes["4"], graph_nodes["6"]
    assert ours.shape == (1, 4, 8, 8) and torch.isfinite(ours).all()
    assert torch.equal(ours, stock), "KSampler (ER-SDE) and KSampler + er_sde_solver_3 disagree"


@pytest.mark.parametrize("noise_type", ["gaussian", "brownian", "comfyui"])
def test_er_sde_sampler_node_feeds_sampler_custom(host, graph_nodes, node_style, noise_type):
    prompt = base() | {"5": {"class_type": "ERSDESolverSampler", "inputs": ER_SDE | {"noise_type": noise_type}}} \
        | sampler_custom(["5", 0]) | capture("8", "7")
    messages = execute(host, prompt)
    assert "execution_success" in messages, messages.get("execution_error")
    assert torch.isfinite(graph_nodes["8"]).all()


# 10 karras steps, cfg 3, seed 21, batch 2: test_parity's runs, so its measured differences and bounds hold here
PARITY = {"seed": 21, "steps": 10, "cfg": 3.0, "scheduler": "karras"}


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("kind", ["eps", "v", "flow"])
def test_ksampler_er_sde_reference_with_comfyui_noise_reproduces_stock_ksampler_er_sde(host, graph_nodes, node_style,
                                                                                        er_sde_rel_bound, kind):
    """scheme=reference + noise_type=comfyui (order 3, the paper's noise scale, eta 1) is stock
    KSampler's er_sde at the same seed, up to er_sde's Riemann sums (conftest's er_sde_rel_bound);
    the default noise (our per-item stream) gives another image."""
    REL_BOUND = er_sde_rel_bound
    latent = {"2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 2}}}
    prompt = base(kind) | latent | ksampler_er_sde(scheme="reference", noise_type="comfyui") | capture("4", "3") \
        | ksampler_er_sde("5", scheme="reference") | capture("6", "5") | {
        "7": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "sampler_name": "er_sde", "positive": ["1", 1], "negative": ["1", 2],
            "latent_image": ["2", 0], "denoise": 1.0, **PARITY}}} | capture("8", "7")
    for node_id in ("3", "5"):
        prompt[node_id]["inputs"].update(PARITY)
    messages = execute(host, prompt)
    assert "execution_success" in messages, messages.get("execution_error")
    ours, default_noise, stock = graph_nodes["4"], graph_nodes["6"], graph_nodes["8"]
    assert ours.shape == stock.shape == (2, 4, 8, 8)
    d_ours, d_default = rel(ours, stock), rel(default_noise, stock)
    print(f"{kind}: reference + comfyui noise {d_ours:.2e}, reference + gaussian noise {d_default:.2e}")
    assert d_ours < REL_BOUND[kind], f"KSampler (ER-SDE) reference + comfyui noise is {d_ours:.2e} from stock er_sde"
    assert d_default > 10 * REL_BOUND[kind], "the default noise gives er_sde's image too: the test cannot tell"


def test_er_sde_sampler_node_reference_with_comfyui_noise_matches_comfyuis_sampler_er_sde_node(host, graph_nodes, node_style,
                                                                                            er_sde_rel_bound):
    """The same through SamplerCustom: ER-SDE-Solver Sampler (reference, comfyui) against ComfyUI's own
    SamplerER_SDE node (ER-SDE, max_stage 3), eps model."""
    REL_BOUND = er_sde_rel_bound
    prompt = base() | {"5": {"class_type": "ERSDESolverSampler", "inputs": ER_SDE | {
        "scheme": "reference", "noise_type": "comfyui"}}} | sampler_custom(["5", 0]) | capture("8", "7") \
        | {"9": {"class_type": "SamplerER_SDE", "inputs": {"solver_type": "ER-SDE", "max_stage": 3, "eta": 1.0,
                                                           "s_noise": 1.0}}} \
        | {"10": sampler_custom(["9", 0], "10")["10"]} | capture("11", "10")
    messages = execute(host, prompt)
    assert "execution_success" in messages, messages.get("execution_error")
    d = rel(graph_nodes["8"], graph_nodes["11"])
    assert 0 < d < REL_BOUND["eps"], f"reference + comfyui noise is {d:.2e} from SamplerER_SDE"


def test_ksamplerselect_offers_er_sde_solver_for_sampler_custom(host, graph_nodes):
    prompt = base() | {"5": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "er_sde_solver_1"}}} \
        | sampler_custom(["5", 0]) | capture("8", "7")
    messages = execute(host, prompt)
    assert "execution_success" in messages, messages.get("execution_error")
    assert torch.isfinite(graph_nodes["8"]).all()


def error_of(messages):
    assert "execution_error" in messages, "the graph ran although its input was bad"
    return messages["execution_error"]


def test_custom_expression_that_does_not_parse_fails_on_the_sampler_node(host, graph_nodes, node_style):
    prompt = base() | {"5": {"class_type": "ERSDESolverSampler",
                             "inputs": ER_SDE | {"noise_scale": "custom", "custom_noise_scale": "x ** "}}} \
        | sampler_custom(["5", 0]) | capture("8", "7")
    error = error_of(execute(host, prompt))
    assert error["node_id"] == "5" and error["node_type"] == "ERSDESolverSampler"
    assert "custom_noise_scale" in error["exception_message"], error["exception_message"]


def test_custom_expression_calling_python_is_refused_not_run(host, graph_nodes):
    prompt = base() | {"5": {"class_type": "ERSDESolverSampler",
                             "inputs": ER_SDE | {"noise_scale": "custom",
                                                 "custom_noise_scale": "__import__('os').getcwd()"}}} \
        | sampler_custom(["5", 0]) | capture("8", "7")
    error = error_of(execute(host, prompt))
    assert error["node_id"] == "5" and "custom_noise_scale" in error["exception_message"]


def test_custom_expression_breaking_the_constraint_fails_with_a_fix(host, graph_nodes, node_style):
    # phi(x)/x = exp(-x) decreases: the noise variance would be negative
    prompt = base() | ksampler_er_sde(noise_scale="custom", custom_noise_scale="x * exp(-x)") | capture("4", "3")
    error = error_of(execute(host, prompt))
    assert error["node_type"] == "KSamplerERSDE"
    message = error["exception_message"]
    assert "phi(x)/x" in message and "custom_noise_scale" in message, message


def test_denoise_zero_leaves_no_step_and_says_to_raise_denoise(host, graph_nodes, node_style):
    prompt = base() | ksampler_er_sde(denoise=0.0) | capture("4", "3")
    error = error_of(execute(host, prompt))
    assert error["node_type"] == "KSamplerERSDE"
    assert "denoise" in error["exception_message"], error["exception_message"]


def test_single_sigma_schedule_on_sampler_custom_says_what_to_change(host, graph_nodes):
    prompt = base() | {"5": {"class_type": "ERSDESolverSampler", "inputs": ER_SDE}} \
        | sampler_custom(["5", 0]) | capture("8", "7") | {
            "9": {"class_type": "SplitSigmas", "inputs": {"sigmas": ["6", 0], "step": 0}}}
    prompt["7"]["inputs"]["sigmas"] = ["9", 0]  # the first half: one sigma, no step
    error = error_of(execute(host, prompt))
    assert error["node_type"] == "SamplerCustom"
    assert "at least 2 sigmas" in error["exception_message"], error["exception_message"]


def test_interrupt_during_ksampler_er_sde_is_reported_as_interrupted(host, graph_nodes):
    import comfy.model_management
    import comfy.utils

    def hook(value, total, preview, **kwargs):  # what main.py's progress hook does
        if value == 1:  # the first report, which every version sends (0.33 throttles later ones)
            host.nodes.interrupt_processing(True)
        comfy.model_management.throw_exception_if_processing_interrupted()

    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        messages = execute(host, base() | ksampler_er_sde() | capture("4", "3"))
    finally:
        comfy.utils.set_progress_bar_global_hook(None)
    assert "execution_interrupted" in messages and "execution_error" not in messages
    assert messages["execution_interrupted"]["node_type"] == "KSamplerERSDE"
    assert "execution_success" in execute(host, base() | ksampler_er_sde() | capture("4", "3"))
