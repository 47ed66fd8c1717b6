"""The shipped and the frozen workflows against a real ComfyUI with this pack loaded
(COMFYUI_DIR=/path/to/ComfyUI; skipped without it): ComfyUI's own validate_prompt accepts
every API graph, each UI workflow means the same graph as its API twin, every node type and
sampler name they use exists."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKFLOWS = REPO / "workflows"
FROZEN = HERE / "frozen"
UI = sorted(WORKFLOWS.glob("*.json"))
API = sorted((WORKFLOWS / "api").glob("*.json"))
FROZEN_API = sorted(p for p in FROZEN.rglob("*.json") if "nodes" not in json.loads(p.read_text()))
FROZEN_UI = sorted(p for p in FROZEN.rglob("*.json") if "nodes" in json.loads(p.read_text()))


def ids(paths, root):
    return [str(p.relative_to(root)) for p in paths]


@pytest.fixture(scope="module")
def node_classes(host, checkpoints):
    return host.nodes.NODE_CLASS_MAPPINGS


def _check(wf, prompt, node_classes, what):
    valid, error, node_errors = wf.validate(prompt)
    assert valid, f"{what}: ComfyUI's validate_prompt refused it: {error}; {json.dumps(node_errors)[:3000]}"
    problems = wf.strict_problems(prompt, node_classes)
    assert not problems, f"{what}: " + "; ".join(problems)


@pytest.mark.parametrize("path", API, ids=ids(API, WORKFLOWS))
def test_api_twin_passes_validate_prompt(wf, node_classes, path):
    _check(wf, wf.load(path), node_classes, str(path.relative_to(REPO)))


@pytest.mark.parametrize("path", UI, ids=ids(UI, WORKFLOWS))
def test_ui_workflow_has_same_nodes_links_and_widget_values_as_api_twin(wf, node_classes, path):
    converted = wf.ui_to_api(wf.load(path), node_classes)
    twin = wf.strip_meta(wf.load(WORKFLOWS / "api" / path.name))
    assert set(converted) == set(twin), f"{path.name}: node ids differ from the twin's"
    for node_id in twin:
        assert converted[node_id] == twin[node_id], f"{path.name} node #{node_id} differs from its API twin"


@pytest.mark.parametrize("path", UI + API, ids=ids(UI + API, WORKFLOWS))
def test_node_types_and_sampler_names_used_exist_in_comfyui(host, node_classes, wf, path):
    import comfy.samplers
    data = wf.load(path)
    types_ = {n["type"] for n in data["nodes"]} - set(wf.FRONTEND_ONLY) if "nodes" in data else \
        {n["class_type"] for n in data.values()}
    missing = sorted(t for t in types_ if t not in node_classes)
    assert not missing, f"{path.name}: node types not in ComfyUI: {missing}"
    text = path.read_text()
    used = {s for s in host.ersde.names.SAMPLER_NAMES if s in text}
    assert used <= set(comfy.samplers.KSampler.SAMPLERS)
    if "KSampler\"" in text:
        ks = node_classes["KSampler"].INPUT_TYPES()["required"]["sampler_name"][0]
        for name in set(host.ersde.names.SAMPLER_NAMES) & set(text.split('"')):
            assert name in ks, f"{name} is not in the KSampler's dropdown"


def test_pack_node_display_names(host):
    names = host.ersde.names
    shown = host.nodes.NODE_DISPLAY_NAME_MAPPINGS
    assert shown[names.SAMPLER_NODE_ID] == names.SAMPLER_NODE_DISPLAY_NAME
    assert shown[names.KSAMPLER_NODE_ID] == names.KSAMPLER_NODE_DISPLAY_NAME


@pytest.mark.parametrize("path", API, ids=ids(API, WORKFLOWS))
def test_shipped_workflows_set_er_sde_knobs_to_the_nodes_defaults(wf, host, node_classes, path):
    knobs = host.ersde.names.ER_SDE_INPUTS
    for node_id, node in wf.load(path).items():
        if node["class_type"] not in (host.ersde.names.SAMPLER_NODE_ID, host.ersde.names.KSAMPLER_NODE_ID):
            continue
        defaults = {n: o.get("default") for n, _, o in wf.input_defs(node_classes[node["class_type"]])}
        for knob in knobs:
            assert node["inputs"][knob] == defaults[knob], (
                f"{path.name} #{node_id}: {knob}={node['inputs'][knob]!r}, the node's default is {defaults[knob]!r}")


# The promise to saved workflows: frozen copies keep validating in every later version.

@pytest.mark.parametrize("path", FROZEN_API, ids=ids(FROZEN_API, FROZEN))
def test_frozen_api_graph_still_validates(wf, node_classes, path):
    _check(wf, wf.load(path), node_classes, f"frozen {path.relative_to(FROZEN)}")


@pytest.mark.parametrize("path", FROZEN_UI, ids=ids(FROZEN_UI, FROZEN))
def test_frozen_ui_workflow_still_loads_to_a_valid_prompt(wf, node_classes, path):
    """Widget values are positional in UI files: a reordered or removed widget input breaks them."""
    prompt = wf.ui_to_api(wf.load(path), node_classes)
    _check(wf, prompt, node_classes, f"frozen {path.relative_to(FROZEN)}")
    twin = path.parent / "api" / path.name
    if twin.exists():
        assert prompt == wf.strip_meta(wf.load(twin)), f"frozen {path.name} no longer means its API twin"


def test_validation_catches_a_renamed_sampler_and_a_bad_knob(wf, node_classes):
    """The checks above can fail: a sampler name or combo value that is not released is caught."""
    prompt = wf.load(FROZEN / "0.1.0" / "api" / "ksampler_er_sde_solver_3.json")
    prompt["5"]["inputs"]["sampler_name"] = "er_sde_solver_4"
    assert not wf.validate(prompt)[0]
    prompt = wf.load(FROZEN / "0.1.0" / "api" / "ksampler_ersde_every_input.json")
    ks = next(k for k, v in prompt.items() if v["class_type"] == "KSamplerERSDE")
    prompt[ks]["inputs"]["noise_scale"] = "no_such_scale"
    prompt[ks]["inputs"]["renamed_input"] = 1
    problems = wf.strict_problems(prompt, node_classes)
    assert any("no_such_scale" in p for p in problems) and any("renamed_input" in p for p in problems)
