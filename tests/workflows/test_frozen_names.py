"""Host-free (runs in CI): the frozen workflows (tests/workflows/frozen/) name only released
node ids, input names, input order, combo values and sampler names from
ersde_nodes/names.py, so that a rename or reorder there breaks CI even without ComfyUI.
test_host_workflows.py checks the same files against a real ComfyUI."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ersde_nodes import names
from k_diffusion_ext import NOISE_SCALES

FROZEN = Path(__file__).resolve().parent / "frozen"
FILES = sorted(FROZEN.rglob("*.json"))
IDS = [str(p.relative_to(FROZEN)) for p in FILES]
OURS = {names.SAMPLER_NODE_ID: names.SAMPLER_INPUTS, names.KSAMPLER_NODE_ID: names.KSAMPLER_INPUTS}
LINK_INPUTS = {names.IN_MODEL, names.IN_POSITIVE, names.IN_NEGATIVE, names.IN_LATENT_IMAGE}
COMBOS = {
    names.IN_NOISE_SCALE: set(NOISE_SCALES) | {names.CUSTOM},
    names.IN_NOISE_TYPE: set(names.NOISE_TYPES),
    names.IN_SCHEME: set(names.SCHEMES),
}
KINDS = {names.IN_ORDER: int, names.IN_SEED: int, names.IN_STEPS: int, names.IN_CFG: (int, float),
         names.IN_DENOISE: (int, float), names.IN_ETA: (int, float), names.IN_S_NOISE: (int, float),
         names.IN_CUSTOM_NOISE_SCALE: str, names.IN_SCHEDULER: str}
BOOLEANS = {names.IN_CFG_PP}


def api_nodes(path: Path) -> list[tuple[str, str, dict]]:
    """(node id, class_type, inputs) of a frozen file; UI files are read with names.py's input
    order (widgets_values are positional: the seed is followed by its control value)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "nodes" not in data:
        return [(k, v["class_type"], v["inputs"]) for k, v in data.items()]
    out = []
    for node in data["nodes"]:
        if node["type"] not in OURS:
            out.append((str(node["id"]), node["type"], {"widgets_values": node.get("widgets_values", [])}))
            continue
        values = list(node["widgets_values"])
        inputs = {i["name"]: ["link", i["link"]] for i in node.get("inputs", [])}
        for name in OURS[node["type"]]:
            if name in LINK_INPUTS:
                continue
            if not values and name in names.OPTIONAL_INPUTS:
                continue  # saved before this optional input was added
            assert values, f"{path.name} #{node['id']} {node['type']}: no widget value for {name}"
            inputs[name] = values.pop(0)
            if name == names.IN_SEED:
                assert values.pop(0) in ("fixed", "increment", "decrement", "randomize"), "seed control value"
        assert not values, f"{path.name} #{node['id']} {node['type']}: widget values left over {values}"
        out.append((str(node["id"]), node["type"], inputs))
    return out


def test_frozen_files_exist_for_every_released_workflow():
    released = {p.name for p in (Path(__file__).resolve().parents[2] / "workflows").glob("*.json")}
    frozen_ui = {p.name for p in FROZEN.glob("*/*.json")}
    assert released <= frozen_ui, f"released workflows without a frozen copy: {sorted(released - frozen_ui)}"
    assert any(p.name == "ksampler_er_sde_solver_1.json" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_frozen_er_sde_nodes_use_released_input_names_order_and_values(path):
    for node_id, class_type, inputs in api_nodes(path):
        if class_type not in OURS:
            continue
        where = f"{path.relative_to(FROZEN)} #{node_id} {class_type}"
        declared = OURS[class_type]
        unknown = [n for n in inputs if n not in declared]
        assert not unknown, f"{where}: input names no longer in names.py: {unknown}"
        for name, value in inputs.items():
            if isinstance(value, list):
                continue
            if name in COMBOS:
                assert value in COMBOS[name], f"{where}: {name}={value!r} is no longer a released value"
            if name in KINDS:
                assert isinstance(value, KINDS[name]) and not isinstance(value, bool), (
                    f"{where}: {name}={value!r} has the wrong type: input order changed?")
            if name in BOOLEANS:
                assert isinstance(value, bool), f"{where}: {name}={value!r} is not a boolean: input order changed?"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_frozen_files_name_only_released_node_ids_and_sampler_names(path):
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)

    def strings(x):
        if isinstance(x, str):
            yield x
        elif isinstance(x, dict):
            for v in x.values():
                yield from strings(v)
        elif isinstance(x, list):
            for v in x:
                yield from strings(v)

    used_samplers = {s for s in strings(data) if s.startswith("er_sde_solver")}
    assert used_samplers <= set(names.SAMPLER_NAMES), (
        f"{path.name}: sampler names not released: {sorted(used_samplers - set(names.SAMPLER_NAMES))}")
    types_ = {c for _, c, _ in api_nodes(path)}
    ersde_like = {t for t in types_ if "ersde" in t.lower() or "er_sde" in t.lower()}
    assert ersde_like <= set(OURS), f"{path.name}: node ids not in names.py: {sorted(ersde_like - set(OURS))}"


def test_optional_inputs_come_last_after_every_required_input():
    """Old UI files hold one widget value per input of their release, by position: an input
    added later must come after all of them, and only optional ones may be missing."""
    for declared in OURS.values():
        tail = declared[len(declared) - len(names.OPTIONAL_INPUTS):]
        assert tuple(tail) == tuple(names.OPTIONAL_INPUTS), f"optional inputs are not last: {declared}"


def test_frozen_files_cover_every_released_name():
    used_types, used_inputs, used_samplers = set(), {k: set() for k in OURS}, set()
    for path in FILES:
        for _, class_type, inputs in api_nodes(path):
            used_types.add(class_type)
            if class_type in OURS:
                used_inputs[class_type] |= set(inputs)
            if class_type == "KSampler" and "sampler_name" in inputs:
                used_samplers.add(inputs["sampler_name"])
    assert set(OURS) <= used_types
    for class_type, declared in OURS.items():
        assert set(declared) <= used_inputs[class_type], f"{class_type}: inputs no frozen graph sets"
    assert set(names.SAMPLER_NAMES) <= used_samplers
