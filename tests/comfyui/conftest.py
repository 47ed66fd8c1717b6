"""Host tests against a real ComfyUI checkout (COMFYUI_DIR=/path/to/ComfyUI).

The session fixture starts ComfyUI the way main.py does, as far as loading nodes goes:
CPU only, `utils` imported before `nodes` (main.py does so; nodes.py puts comfy/ first on
sys.path, where comfy/utils.py would otherwise shadow the `utils` package), the built-in
extra nodes loaded with init_extra_nodes(init_custom_nodes=False, init_api_nodes=False),
then this repository loaded with nodes.load_custom_node from a folder with an unusual
name, as if a user had cloned it so. ComfyUI keeps global state, so this is done once a
session; run these tests on their own: pytest tests/comfyui.

Without torchaudio (this project never installs it) only ComfyUI's audio nodes fail to
load, which these tests do not use.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import types
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CLONE_NAME = "ComfyUI-ER-SDE.my clone"  # a folder name that is no valid module name
SKIP_REASON = ("COMFYUI_DIR is not set: the ComfyUI host tests need a ComfyUI checkout "
               "(COMFYUI_DIR=/path/to/ComfyUI python -m pytest tests/comfyui)")


@pytest.fixture(scope="session")
def host(tmp_path_factory):
    """ComfyUI's modules with the built-in nodes and this pack loaded."""
    comfy_dir = os.environ.get("COMFYUI_DIR")
    if not comfy_dir:
        if os.environ.get("ERSDE_REQUIRE_HOST"):  # CI: a missing host is a failure, not a skip
            pytest.fail("ERSDE_REQUIRE_HOST is set but COMFYUI_DIR is not")
        pytest.skip(SKIP_REASON)
    comfy_dir = str(Path(comfy_dir).resolve())
    if not Path(comfy_dir, "nodes.py").is_file():
        pytest.fail(f"COMFYUI_DIR={comfy_dir} has no nodes.py: point it at a ComfyUI checkout")
    sys.path.insert(0, comfy_dir)
    from comfy.cli_args import args
    args.cpu = True
    import utils.extra_config  # noqa: F401  (as main.py, before nodes)
    import nodes
    import comfy.samplers

    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the missing-torchaudio tracebacks
    try:
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    finally:
        logging.getLogger().setLevel(level)
    builtin_sampler_names = list(comfy.samplers.SAMPLER_NAMES)
    builtin_er_sde = comfy.k_diffusion.sampling.sample_er_sde
    assert "SamplerCustom" in nodes.NODE_CLASS_MAPPINGS, "ComfyUI's custom-sampler nodes did not load"

    parent = tmp_path_factory.mktemp("custom_nodes")
    pack_dir = parent / CLONE_NAME
    pack_dir.symlink_to(REPO, target_is_directory=True)
    assert asyncio.run(nodes.load_custom_node(str(pack_dir))), "nodes.load_custom_node refused the pack"
    module_name = str(pack_dir).replace(".", "_x_")  # what load_custom_node names it
    return types.SimpleNamespace(
        dir=comfy_dir, version=comfyui_version(comfy_dir), prompt_executor=classic_prompt_executor,
        combo_options=combo_options, nodes=nodes, pack_dir=str(pack_dir), pack=sys.modules[module_name],
        ersde=sys.modules[module_name + ".ersde_nodes"],
        builtin_sampler_names=builtin_sampler_names, builtin_er_sde=builtin_er_sde,
    )


def classic_prompt_executor(server):
    """execution.PromptExecutor with the classic cache, started as each version's main.py starts it
    with --cache-classic: ComfyUI 0.33 also takes cache_args (LRU size and RAM headroom, 0 there)
    and reads them on every prompt; 0.3.64 has no such argument."""
    import inspect

    import execution
    kwargs = {"cache_type": execution.CacheType.CLASSIC}
    if "cache_args" in inspect.signature(execution.PromptExecutor).parameters:
        kwargs["cache_args"] = {"lru": 0, "ram": 0, "ram_inactive": 0}
    return execution.PromptExecutor(server, **kwargs)


def combo_options(node_class, input_name: str) -> list:
    """The choices of a node's dropdown input, as either form of INPUT_TYPES gives them: the
    classic ([choices], {...}) or ComfyUI 0.33's V3 form ("COMBO", {"options": [choices], ...})."""
    types_ = node_class.INPUT_TYPES()
    spec = {**types_.get("required", {}), **types_.get("optional", {})}[input_name]
    return list(spec[0]) if isinstance(spec[0], (list, tuple)) else list(spec[1]["options"])


def comfyui_version(host_dir: str) -> tuple[int, ...]:
    """The snapshot's ComfyUI version (comfyui_version.py), e.g. (0, 3, 64) or (0, 33, 0)."""
    text = Path(host_dir, "comfyui_version.py").read_text(encoding="utf8")
    version = text.split("__version__", 1)[1].split("=", 1)[1].strip().split()[0].strip("\"'")
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _init_weights(module: torch.nn.Module, seed: int) -> None:
    """ComfyUI's layers skip weight init; give them small deterministic random weights.
    The output layer is kept small so that predictions stay of the latent's size."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            value = torch.randn(p.shape, generator=g) * 0.05
            if "norm" in name and name.endswith("weight"):
                value += 1.0
            if name.startswith("out."):
                value *= 0.2
            p.copy_(value)


TINY_UNET = {
    "in_channels": 4, "out_channels": 4, "model_channels": 32, "num_res_blocks": [1, 1],
    "channel_mult": [1, 2], "transformer_depth": [1, 0], "transformer_depth_output": [1, 1, 0, 0],
    "transformer_depth_middle": 0, "context_dim": 16, "use_linear_in_transformer": True,
    "adm_in_channels": None, "use_temporal_attention": False, "image_size": 32,
    "use_spatial_transformer": True, "legacy": False,
}


@pytest.fixture(scope="session")
def tiny_models(host):
    """A tiny SD1.5-style UNet built from ComfyUI's own classes (random weights, CPU), as a
    ModelPatcher, per model type: eps, v (V_PREDICTION) and flow (CONST)."""
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models

    cpu = torch.device("cpu")
    types_ = {"eps": comfy.model_base.ModelType.EPS, "v": comfy.model_base.ModelType.V_PREDICTION,
              "flow": comfy.model_base.ModelType.FLOW}
    models = {}
    for kind, model_type in types_.items():
        config = comfy.supported_models.SD15(dict(TINY_UNET))
        config.unet_config.update(num_heads=2, num_head_channels=-1)
        model = comfy.model_base.BaseModel(config, model_type=model_type, device=cpu)
        model.diffusion_model.float()
        _init_weights(model.diffusion_model, 0)
        models[kind] = comfy.model_patcher.ModelPatcher(model, load_device=cpu, offload_device=cpu)
    return models


@pytest.fixture(scope="session")
def conds():
    g = torch.Generator().manual_seed(1)
    positive = [[torch.randn(1, 4, 16, generator=g), {}]]
    negative = [[torch.randn(1, 4, 16, generator=g), {}]]
    return positive, negative


# max |ours - er_sde| / max |er_sde| of scheme "reference" with ComfyUI's noise against ComfyUI's
# er_sde on the tiny models (10 karras steps, batch 2, cfg 3, seed 21): measured 2.9e-4 (eps),
# 8.0e-4 (v), 7.5e-5 (flow), er_sde's 200-point Riemann sums against our exact integrals; the
# bounds are about 2.5 times that. The corrected scheme and order 2 land at 1.4e-2 / 5.9e-3 (eps),
# 2.2e-2 / 7.7e-3 (v), 1.5e-3 / 5.2e-4 (flow): more than twice the bound (test_parity checks it).
ER_SDE_REL_BOUND = {"eps": 8e-4, "v": 2e-3, "flow": 2e-4}


@pytest.fixture(scope="session")
def er_sde_rel_bound():
    return dict(ER_SDE_REL_BOUND)


class AutoChoices:
    """While active, records every decision of the pack's auto policy (coefficients.auto_choice in
    the solver copy ComfyUI loaded): the guidance scale it got and the (order, scheme) it chose,
    so a test can show which cfg reached it and check the image against that variant."""

    def __init__(self, host):
        self.coefficients = host.ersde.sampling.solver.coefficients
        self.calls: list[tuple[float | None, int, str]] = []

    def __enter__(self) -> "AutoChoices":
        self.original = original = self.coefficients.auto_choice

        def recording(guidance_scale, noise_shares, order, *plan):
            chosen = original(guidance_scale, noise_shares, order, *plan)
            self.calls.append((guidance_scale, *chosen))
            return chosen

        self.coefficients.auto_choice = recording
        return self

    def __exit__(self, *exc) -> None:
        self.coefficients.auto_choice = self.original

    def variant(self) -> dict:
        """The nodes' order and scheme inputs of the one choice recorded."""
        assert len(self.calls) == 1, f"the auto policy decided {len(self.calls)} times, expected once"
        _, order, scheme = self.calls[0]
        return {"order": order, "scheme": scheme}


@pytest.fixture
def auto_choices(host):
    return lambda: AutoChoices(host)
