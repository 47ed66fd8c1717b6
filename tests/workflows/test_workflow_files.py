"""Host-free (runs in CI): the shipped workflows are the generator's output, each UI workflow
has its API twin and its thumbnail, and the files are where ComfyUI looks for them."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "workflows"
UI_FILES = sorted(WORKFLOWS.glob("*.json"))


def _build():
    spec = importlib.util.spec_from_file_location("ersde_workflows_build", WORKFLOWS / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_committed_json_is_the_output_of_workflows_build_py():
    stale = [str(p.relative_to(REPO)) for p, text in _build().outputs().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `python workflows/build.py`: these differ from its output: {stale}"


def test_every_json_in_workflows_and_api_comes_from_build_py():
    made = set(_build().outputs())
    shipped = set(WORKFLOWS.glob("*.json")) | set((WORKFLOWS / "api").glob("*.json"))
    assert shipped == made, f"files build.py does not make: {sorted(map(str, shipped - made))}"


def test_no_released_workflow_is_withdrawn():
    """Every workflow a release shipped (its frozen copy in tests/workflows/frozen/<version>/) is
    still in workflows/: users' links and the template browser point at them."""
    released = {p.name for p in (Path(__file__).resolve().parent / "frozen").glob("*/*.json")}
    assert released <= {p.name for p in UI_FILES}, sorted(released - {p.name for p in UI_FILES})


@pytest.mark.parametrize("path", UI_FILES, ids=[p.stem for p in UI_FILES])
def test_ui_workflow_has_api_twin_and_jpg_thumbnail(path):
    assert (WORKFLOWS / "api" / path.name).is_file(), f"no API twin workflows/api/{path.name}"
    jpg = path.with_suffix(".jpg")
    assert jpg.is_file(), f"no thumbnail {jpg.name} (tools/thumbnails.py makes it)"
    assert jpg.read_bytes()[:3] == b"\xff\xd8\xff", f"{jpg.name} is not a JPEG"


@pytest.mark.parametrize("path", UI_FILES, ids=[p.stem for p in UI_FILES])
def test_ui_workflow_is_litegraph_version_0_4_with_consistent_links(path):
    ui = json.loads(path.read_text(encoding="utf-8"))
    assert ui["version"] == 0.4
    for key in ("nodes", "links", "groups", "extra", "last_node_id", "last_link_id"):
        assert key in ui, f"{path.name} lacks {key!r}"
    nodes = {n["id"]: n for n in ui["nodes"]}
    assert ui["last_node_id"] == max(nodes) and ui["last_link_id"] == max(l[0] for l in ui["links"])
    for link_id, src, src_slot, dst, dst_slot, type_ in ui["links"]:
        assert link_id in nodes[src]["outputs"][src_slot]["links"], f"link {link_id} missing at its source"
        target = nodes[dst]["inputs"][dst_slot]
        assert target["link"] == link_id and target["type"] == type_ == nodes[src]["outputs"][src_slot]["type"]
    notes = [n for n in ui["nodes"] if n["type"] in ("Note", "MarkdownNote")]
    assert notes and "models/" in notes[0]["widgets_values"][0], f"{path.name}: no note on what to download"


LOADERS = {"CheckpointLoaderSimple": "checkpoints", "UNETLoader": "diffusion_models", "CLIPLoader": "text_encoders",
           "DualCLIPLoader": "text_encoders", "VAELoader": "vae"}


@pytest.mark.parametrize("path", UI_FILES, ids=[p.stem for p in UI_FILES])
def test_note_says_where_each_model_file_goes_and_the_loader_offers_its_download(path):
    """Every file a loader node names is in the note with its models/ folder and a https URL,
    and in the loader's "models" property (the frontend's download offer) with the same folder."""
    ui = json.loads(path.read_text(encoding="utf-8"))
    note = next(n for n in ui["nodes"] if n["type"] in ("Note", "MarkdownNote"))["widgets_values"][0]
    for node in ui["nodes"]:
        if node["type"] not in LOADERS:
            continue
        folder = LOADERS[node["type"]]
        files = [v for v in node["widgets_values"] if isinstance(v, str) and v.endswith(".safetensors")]
        assert files, f"{path.name} #{node['id']} {node['type']}: names no model file"
        offered = {m["name"]: m for m in node["properties"].get("models", [])}
        for name in files:
            assert name in note and f"models/{folder}/" in note, f"{path.name}: the note does not say where {name} goes"
            assert name in offered, f"{path.name} #{node['id']}: no download entry for {name}"
            assert offered[name]["directory"] == folder and offered[name]["url"].startswith("https://"), offered[name]
            assert offered[name]["url"].split("?")[0].endswith("/" + name), f"{name}: the URL names another file"
