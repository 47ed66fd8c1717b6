"""The pack loads through every node-API path the ComfyUI checkout offers (COMFYUI_DIR):
the pinned comfy_api.v0_0_2, comfy_api.latest when the pinned version is gone, and the
classic mappings when no V3 API is there. Each path is a fresh interpreter that starts
ComfyUI's node loader, hides the API modules a later host might not have, and loads the pack
with nodes.load_custom_node; the released node ids and input order must come out the same.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMFYUI_DIR = os.environ.get("COMFYUI_DIR")

# (the API the nodes must be declared against, the API modules hidden from the pack)
PATHS = [
    ("comfy_api.v0_0_2", []),
    ("comfy_api.latest", ["comfy_api.v0_0_2"]),
    ("classic", ["comfy_api.v0_0_2", "comfy_api.latest"]),
]

LOAD = r"""
import asyncio, json, sys
comfy_dir, pack_dir, hidden = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, comfy_dir)
from comfy.cli_args import args
args.cpu = True
import utils.extra_config  # noqa: F401  (main.py imports it before nodes)
import nodes
for name in hidden:  # as on a host without this API version: importing it raises ImportError
    sys.modules[name] = None
assert asyncio.run(nodes.load_custom_node(pack_dir)), "nodes.load_custom_node refused the pack"
pack = sys.modules[pack_dir.replace(".", "_x_")]
import comfy.samplers
out = {"api": pack.ERSDE_NODE_API, "entrypoint": hasattr(pack, "comfy_entrypoint"),
       "mappings": hasattr(pack, "NODE_CLASS_MAPPINGS"),
       "dropdown": [n for n in comfy.samplers.KSampler.SAMPLERS if n.startswith("er_sde")], "nodes": {}}
inputs = {"order": 2, "noise_scale": "paper_default", "custom_noise_scale": "x", "eta": 1.0, "s_noise": 1.0,
          "noise_type": "gaussian", "scheme": "corrected"}
for node_id in ("ERSDESolverSampler", "KSamplerERSDE"):
    cls = nodes.NODE_CLASS_MAPPINGS[node_id]
    declared = cls.INPUT_TYPES()
    info = {"inputs": list(declared["required"]) + list(declared.get("optional", {})), "display": nodes.NODE_DISPLAY_NAME_MAPPINGS.get(node_id),
            "bases": [c.__module__ + "." + c.__name__ for c in cls.__mro__[1:]]}
    if node_id == "ERSDESolverSampler":  # run the loaded class: it must hand out a working SAMPLER
        if hasattr(cls, "define_schema"):  # V3: classmethod execute -> NodeOutput
            result = cls.execute(**inputs).result[0]
        else:
            result = getattr(cls(), cls.FUNCTION)(**inputs)[0]
        info["output"] = type(result).__module__ + "." + type(result).__name__
    out["nodes"][node_id] = info
print("ERSDE_API_PATH " + json.dumps(out))
"""


def _offered(api: str, hidden: list[str]) -> bool:
    """Whether this checkout has the API the path needs (the classic path needs none)."""
    if api == "classic":
        return True
    return (Path(COMFYUI_DIR) / api.replace(".", "/") / "__init__.py").is_file()


@pytest.mark.parametrize("api,hidden", PATHS, ids=[api for api, _ in PATHS])
def test_pack_loads_through_node_api_path_with_released_ids_and_inputs(api, hidden, tmp_path):
    if not COMFYUI_DIR:
        if os.environ.get("ERSDE_REQUIRE_HOST"):
            pytest.fail("ERSDE_REQUIRE_HOST is set but COMFYUI_DIR is not")
        pytest.skip("COMFYUI_DIR is not set: the ComfyUI host tests need a ComfyUI checkout")
    if not _offered(api, hidden):
        pytest.skip(f"this ComfyUI checkout has no {api}")
    from ersde_nodes import names

    pack_dir = tmp_path / "ER-SDE.api path"
    pack_dir.symlink_to(REPO, target_is_directory=True)
    run = subprocess.run([sys.executable, "-c", LOAD, str(Path(COMFYUI_DIR).resolve()), str(pack_dir),
                          json.dumps(hidden)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    lines = [line for line in run.stdout.splitlines() if line.startswith("ERSDE_API_PATH ")]
    assert lines, f"the pack did not load (rc {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    out = json.loads(lines[-1].split(" ", 1)[1])

    assert out["api"] == api
    assert out["entrypoint"] == (api != "classic") and out["mappings"] == (api == "classic"), out
    assert [n for n in out["dropdown"] if n in names.SAMPLER_NAMES] == list(names.SAMPLER_NAMES)
    sampler, ksampler = out["nodes"]["ERSDESolverSampler"], out["nodes"]["KSamplerERSDE"]
    assert sampler["inputs"] == list(names.SAMPLER_INPUTS)
    assert ksampler["inputs"] == list(names.KSAMPLER_INPUTS)
    assert sampler["display"] == "ER-SDE-Solver Sampler" and ksampler["display"] == "KSampler (ER-SDE)"
    assert sampler["output"] == "comfy.samplers.KSAMPLER"
    if api != "classic":
        assert any(base.endswith(".ComfyNode") for base in sampler["bases"]), sampler["bases"]
