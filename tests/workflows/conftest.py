"""Fixtures and helpers of the workflow tests.

The ComfyUI host (`host`) is the one of tests/comfyui/conftest.py: its fixture function is
imported from there, not copied. ComfyUI keeps global state, so when the comfyui tests have
already loaded ComfyUI and this pack in this session, `host` reuses that instead of loading
it a second time.

Host tests need COMFYUI_DIR (skipped otherwise, as in CI); the e2e test is opt-in, see
test_e2e.py.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "workflows"
FROZEN = Path(__file__).resolve().parent / "frozen"
FRONTEND_ONLY = ("Note", "MarkdownNote", "PrimitiveNode", "Reroute")
# A V3 dynamic combo (ComfyUI 0.33's SaveVideo format and codec): a combo widget that shows
# the inputs of the option it is set to, which the frontend sends as "<combo>.<input>".
DYNAMIC_COMBO = "COMFY_DYNAMICCOMBO_V3"
WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", DYNAMIC_COMBO)


def _comfyui_conftest() -> types.ModuleType:
    """tests/comfyui/conftest.py, the same module object pytest uses (importlib mode names it so)."""
    name = "tests.comfyui.conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "comfyui" / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _already_loaded_host() -> types.SimpleNamespace | None:
    """The host the comfyui tests loaded earlier in this session, if they did."""
    nodes = sys.modules.get("nodes")
    if nodes is None or "ERSDESolverSampler" not in getattr(nodes, "NODE_CLASS_MAPPINGS", {}):
        return None
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and name + ".ersde_nodes" in sys.modules and Path(file).resolve() == REPO / "__init__.py":
            return types.SimpleNamespace(dir=os.environ.get("COMFYUI_DIR"), nodes=nodes,
                                         pack_dir=str(Path(file).parent), pack=module,
                                         ersde=sys.modules[name + ".ersde_nodes"])
    return None


@pytest.fixture(scope="session")
def host(tmp_path_factory):
    """ComfyUI with its built-in nodes and this pack loaded (tests/comfyui/conftest.py's host)."""
    comfyui = _comfyui_conftest()
    if not os.environ.get("COMFYUI_DIR"):
        if os.environ.get("ERSDE_REQUIRE_HOST"):  # CI: a missing host is a failure, not a skip
            pytest.fail("ERSDE_REQUIRE_HOST is set but COMFYUI_DIR is not")
        pytest.skip(comfyui.SKIP_REASON)
    loaded = _already_loaded_host()
    if loaded is not None:
        return loaded
    return comfyui.host._get_wrapped_function()(tmp_path_factory)


CHECKPOINTS = ("v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors")
# The model-file inputs of ComfyUI's loaders and the folder_paths folder each lists.
MODEL_FILE_INPUTS = {
    "CheckpointLoaderSimple": {"ckpt_name": "checkpoints"},
    "UNETLoader": {"unet_name": "diffusion_models"},
    "CLIPLoader": {"clip_name": "text_encoders"},
    "DualCLIPLoader": {"clip_name1": "text_encoders", "clip_name2": "text_encoders"},
    "VAELoader": {"vae_name": "vae"},
}


def model_files(prompt: dict) -> set[tuple[str, str]]:
    """(folder, file name) of every model file an API prompt loads."""
    out = set()
    for node in prompt.values():
        for name, folder in MODEL_FILE_INPUTS.get(node["class_type"], {}).items():
            out.add((folder, node["inputs"][name]))
    return out


@pytest.fixture(scope="session")
def checkpoints(host, tmp_path_factory):
    """Empty files named like the workflows' model files (checkpoints, diffusion models, text
    encoders, VAEs), in folders registered with folder_paths: validate_prompt checks each loader's
    file name against folder_paths' file list."""
    import folder_paths
    root = tmp_path_factory.mktemp("models")
    wanted = {("checkpoints", n) for n in CHECKPOINTS}
    for path in sorted((WORKFLOWS / "api").glob("*.json")) + frozen_files():
        data = load(path)
        if not is_ui_format(data):
            wanted |= model_files(data)
    for folder, name in sorted(wanted):
        (root / folder).mkdir(exist_ok=True)
        (root / folder / name).touch()
    for folder in {f for f, _ in wanted}:
        folder_paths.add_model_folder_path(folder, str(root / folder))
    missing = sorted((f, n) for f, n in wanted if n not in folder_paths.get_filename_list(f))
    assert not missing, f"placeholder model files not listed: {missing}"
    return root / "checkpoints"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def released_workflows() -> list[Path]:
    """The UI-format workflows shipped in workflows/."""
    return sorted(WORKFLOWS.glob("*.json"))


def frozen_files() -> list[Path]:
    return sorted(FROZEN.rglob("*.json"))


def is_ui_format(data: Any) -> bool:
    return isinstance(data, dict) and "nodes" in data and "links" in data


def validate(prompt: dict) -> tuple[bool, Any, Any]:
    """ComfyUI's own validation of an API prompt: (valid, error, node_errors)."""
    import execution
    prompt = json.loads(json.dumps(prompt))  # validate_prompt converts values in place
    valid, error, _outputs, node_errors = asyncio.run(execution.validate_prompt("test", prompt, None))
    return valid, error, node_errors


def input_defs(node_class) -> list[tuple[str, Any, dict]]:
    """(name, type, options) of a node's inputs in the host's order: required, then optional."""
    types_ = node_class.INPUT_TYPES()
    out = []
    for section in ("required", "optional"):
        for name, spec in types_.get(section, {}).items():
            out.append((name, spec[0], spec[1] if len(spec) > 1 and spec[1] else {}))
    return out


def is_widget(type_: Any, options: dict) -> bool:
    if options.get("forceInput"):
        return False
    return isinstance(type_, list) or type_ in WIDGET_TYPES


def dynamic_inputs(name: str, options: dict, key: Any) -> list[tuple[str, Any, dict]]:
    """(name, type, options) of the inputs a dynamic combo named `name` shows when set to `key`,
    named as the frontend sends them ("format.codec"), required then optional (which the
    options mark "optional": True); a nested dynamic combo's own inputs are not included."""
    chosen = next((o["inputs"] for o in options.get("options", []) if o["key"] == key), {})
    return [(f"{name}.{child}", spec[0], dict(spec[1] if len(spec) > 1 and spec[1] else {}, optional=section == "optional"))
            for section in ("required", "optional") for child, spec in chosen.get(section, {}).items()]


def combo_default(type_: Any, options: dict) -> Any:
    """The value the frontend gives a combo it has no saved value for: its default, else its first option."""
    if "default" in options:
        return options["default"]
    choices = type_ if isinstance(type_, list) else options.get("options", [])
    return choices[0]["key"] if choices and isinstance(choices[0], dict) else choices[0]


def ui_to_api(ui: dict, node_classes: dict) -> dict:
    """What the frontend sends for a UI workflow, rebuilt from the host's node definitions:
    widgets_values are read in the order of the node's widget inputs (a seed with
    control_after_generate is followed by its control value), links become [node id, slot].
    Independent of workflows/build.py on purpose."""
    links = {link[0]: link for link in ui["links"]}
    prompt = {}
    for node in ui["nodes"]:
        if node["type"] in FRONTEND_ONLY or node.get("mode", 0) in (2, 4):
            continue
        cls = node_classes[node["type"]]
        linked = {i["name"]: links[i["link"]] for i in node.get("inputs", []) if i.get("link") is not None}
        values = list(node.get("widgets_values", []))
        inputs = {}
        optional = set(cls.INPUT_TYPES().get("optional", {}))
        defs = input_defs(cls)
        while defs:
            name, type_, options = defs.pop(0)
            if is_widget(type_, options):
                if type_ == DYNAMIC_COMBO and options.get("hidden"):
                    # not shown, so not saved: the frontend sends its default
                    inputs[name] = combo_default(type_, options)
                    assert not dynamic_inputs(name, options, inputs[name]), f"{name}: hidden inputs with inputs"
                    continue
                if not values and name in optional:
                    # a graph saved before this optional input existed: the frontend keeps the
                    # widget's default, which means what leaving the input out means
                    continue
                if not values and options.get("optional") and "." in name:
                    # an optional input of a dynamic combo's option saved without a value: the
                    # frontend sends its default (0.33's frontend, seen through tools/thumbnails.py)
                    inputs[name] = combo_default(type_, options) if type_ == DYNAMIC_COMBO else options.get("default")
                    defs[:0] = dynamic_inputs(name, options, inputs[name]) if type_ == DYNAMIC_COMBO else []
                    continue
                assert values, f"node {node['id']} ({node['type']}): no widget value left for {name!r}"
                value = values.pop(0)
                if options.get("control_after_generate"):
                    assert values and values[0] in ("fixed", "increment", "decrement", "randomize"), (
                        f"node {node['id']} ({node['type']}): {name!r} lacks its control_after_generate value")
                    values.pop(0)
                if type_ == DYNAMIC_COMBO:  # the chosen option's widgets follow the combo's value
                    defs[:0] = dynamic_inputs(name, options, value)
                if name not in linked:
                    inputs[name] = value
            if name in linked:
                link = linked[name]
                inputs[name] = [str(link[1]), link[2]]
        assert not values, f"node {node['id']} ({node['type']}): widget values left over: {values}"
        unknown = set(linked) - set(inputs)
        assert not unknown, f"node {node['id']} ({node['type']}): links to unknown inputs {unknown}"
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


def strip_meta(prompt: dict) -> dict:
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def same_inputs(converted: dict, twin: dict) -> bool:
    """Whether a node's inputs from its UI form (ui_to_api) mean what its API twin's say. Equal,
    except that where a host has made a combo dynamic (ComfyUI 0.33's SaveVideo: format, with
    "format.codec"), the twin may give the nested value under the input's flat name ("codec"),
    as the API graphs written for earlier hosts do: the host keeps that input (hidden) for them
    and reads it where the nested one is missing."""
    converted = dict(converted)
    for key in [k for k in converted if "." in k and k not in twin]:
        flat = key.rsplit(".", 1)[1]
        if twin.get(flat) != converted[key]:
            return False
        converted.pop(key)
    return converted == twin


def graph_differences(converted: dict, twin: dict) -> list[str]:
    """Where a prompt from a UI workflow does not mean its API twin: node ids, types, or inputs
    (links and values) that do not mean the same (same_inputs)."""
    if set(converted) != set(twin):
        return [f"node ids {sorted(converted)} vs the twin's {sorted(twin)}"]
    return [f"node #{k}: {converted[k]} vs the twin's {twin[k]}" for k in twin
            if converted[k]["class_type"] != twin[k]["class_type"]
            or not same_inputs(converted[k]["inputs"], twin[k]["inputs"])]


def strict_problems(prompt: dict, node_classes: dict) -> list[str]:
    """What validate_prompt lets through: inputs a node does not declare (a renamed optional
    input would be dropped silently) and V3 combo values ("COMBO" inputs, whose options
    validate_prompt does not check), out-of-list values."""
    problems = []
    for node_id, node in prompt.items():
        cls = node_classes.get(node["class_type"])
        if cls is None:
            problems.append(f"#{node_id}: no node type {node['class_type']!r}")
            continue
        defs = {name: (type_, options) for name, type_, options in input_defs(cls)}
        pending = list(defs)
        while pending:  # the inputs of each dynamic combo's chosen option, nested ones too
            name = pending.pop()
            type_, options = defs[name]
            if type_ == DYNAMIC_COMBO and name in node["inputs"]:
                nested = dynamic_inputs(name, options, node["inputs"][name])
                defs.update({n: (t, o) for n, t, o in nested})
                pending += [n for n, _, _ in nested]
        for name, value in node["inputs"].items():
            if name not in defs:
                problems.append(f"#{node_id} {node['class_type']}: no input named {name!r}")
                continue
            type_, options = defs[name]
            choices = type_ if isinstance(type_, list) else options.get("options") if type_ == "COMBO" else \
                [o["key"] for o in options.get("options", [])] if type_ == DYNAMIC_COMBO else None
            if choices is not None and not isinstance(value, list) and value not in choices:
                problems.append(f"#{node_id} {node['class_type']}.{name}: {value!r} not in {choices}")
    return problems


@pytest.fixture(scope="session")
def wf() -> types.ModuleType:
    """These helpers (test modules cannot import a conftest under pytest's importlib mode)."""
    return sys.modules[__name__]
