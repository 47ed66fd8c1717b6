"""The shipped and the frozen workflows against a real ComfyUI with this pack loaded
(COMFYUI_DIR=/path/to/ComfyUI; skipped without it): ComfyUI's own validate_prompt accepts
every API graph, each UI workflow means the same graph as its API twin, every node type and
sampler name they use exists."""
from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKFLOWS = REPO / "workflows"
FROZEN = HERE / "frozen"


def _build_host_models() -> dict[str, tuple[str, ...]]:
    """workflows/build.py's host_models(): file name -> the model classes the graph needs."""
    spec = importlib.util.spec_from_file_location("ersde_workflows_build", WORKFLOWS / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.host_models()


# what the host has, read from its source at collection time (tests/comfyui/host_source.py)
HOST_SOURCE = runpy.run_path(str(Path(__file__).resolve().parents[1] / "comfyui" / "host_source.py"))


HOST_MODELS = _build_host_models()
HOST_MODEL_CLASSES = HOST_SOURCE["model_classes"]()  # None without COMFYUI_DIR


def host_can_load(path: Path) -> bool:
    """Whether the host knows the models of this graph (its file name's entry in build.py's
    host_models; the Z-Image and Flux.2 graphs need models ComfyUI 0.3.64 lacks): a graph is
    collected only where it is, as tests/comfyui/test_model_families.py collects families."""
    return HOST_MODEL_CLASSES is None or set(HOST_MODELS.get(path.name, ())) <= HOST_MODEL_CLASSES


ALL_UI = sorted(WORKFLOWS.glob("*.json"))
UI = [p for p in ALL_UI if host_can_load(p)]
API = [p for p in sorted((WORKFLOWS / "api").glob("*.json")) if host_can_load(p)]
FROZEN_ALL = sorted(FROZEN.rglob("*.json"))
FROZEN_API = [p for p in FROZEN_ALL if "nodes" not in json.loads(p.read_text()) and host_can_load(p)]
FROZEN_UI = [p for p in FROZEN_ALL if "nodes" in json.loads(p.read_text()) and host_can_load(p)]


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
    differences = wf.graph_differences(converted, twin)
    assert not differences, f"{path.name} differs from its API twin: " + "; ".join(differences)


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
        differences = wf.graph_differences(prompt, wf.strip_meta(wf.load(twin)))
        assert not differences, f"frozen {path.name} no longer means its API twin: " + "; ".join(differences)


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


def test_workflows_left_out_are_those_whose_models_the_host_lacks(host):
    """The filter above reads the host's source; the loaded host agrees: the graphs left out are
    exactly those that need a model class comfy.supported_models lacks (ComfyUI 0.3.64: Z-Image,
    Flux.2), and from 0.33 on none is (a misspelt class in build.py would hide a graph everywhere)."""
    import comfy.supported_models
    import comfyui_version
    version = tuple(int(p) for p in comfyui_version.__version__.split(".")[:3])
    loaded = {cls.__name__ for cls in comfy.supported_models.models}
    assert HOST_MODEL_CLASSES == loaded
    assert HOST_MODELS, "build.py names no graph's model classes: the filter is untested"
    left_out = [p.name for p in ALL_UI if p not in UI]
    assert left_out == [p.name for p in ALL_UI if not set(HOST_MODELS.get(p.name, ())) <= loaded]
    if version >= (0, 33, 0):
        assert not left_out, f"ComfyUI {comfyui_version.__version__}: {left_out} left out"


def test_ui_to_api_reads_save_video_as_each_versions_frontend_sends_it(wf, node_classes):
    """SaveVideo's widgets: format and codec combos up to 0.3.x; from 0.33 a dynamic format combo
    whose option shows a codec combo (whose option may show an encoding combo), beside a hidden
    flat codec. The 0.33 expectation is the prompt 0.33's frontend made of these widget values
    (tools/thumbnails.py, app.graphToPrompt; seen with mkv and av1, whose options are built as mp4's)."""
    ui = wf.load(WORKFLOWS / "wan22_5b_t2v_ksampler_er_sde.json")
    save = next(n for n in ui["nodes"] if n["type"] == "SaveVideo")
    save["widgets_values"] = ["p", "mp4", "h264"]  # options in both versions
    prompt = wf.ui_to_api(ui, node_classes)
    got = {k: v for k, v in prompt[str(save["id"])]["inputs"].items() if k != "video"}
    types_ = {name: type_ for name, type_, _ in wf.input_defs(node_classes["SaveVideo"])}
    dynamic = types_["format"] == wf.DYNAMIC_COMBO
    if dynamic:
        assert got == {"filename_prefix": "p", "format": "mp4", "format.codec": "h264",
                       "format.codec.encoding": "auto", "codec": "auto"}
    else:
        assert got == {"filename_prefix": "p", "format": "mp4", "codec": "h264"}
    assert not wf.strict_problems(prompt, node_classes)
    innermost = "format.codec.encoding" if dynamic else "codec"  # strict_problems reads nested options too
    prompt[str(save["id"])]["inputs"][innermost] = "no_such_option"
    assert any("no_such_option" in p for p in wf.strict_problems(prompt, node_classes))
