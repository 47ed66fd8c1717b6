"""Thumbnails of the example workflows: real screenshots of each workflows/<name>.json loaded in
the real ComfyUI frontend, saved as workflows/<name>.jpg (the name ComfyUI's template browser
looks for next to a custom node's workflow).

What it does: starts ComfyUI (COMFYUI_DIR) on 127.0.0.1, a random free port, --cpu, with a
throw-away base directory that holds this repository as a custom node (a symlink), empty
placeholder files named like the workflows' model files and settings that skip the first-run
dialogs; opens the frontend in headless Chromium (driven by playwright-core, in
tools/thumbnails/), loads each workflow with app.loadGraphData, fits it in view, takes a
screenshot and converts it to JPEG with Pillow. It also checks that the API prompt the
frontend makes of each UI workflow (app.graphToPrompt) equals its twin in workflows/api/,
and fails if not, or if a node type is missing.

One-time setup:
    apt-get install -y chromium                    # Debian's chromium, /usr/bin/chromium
    npm ci --prefix tools/thumbnails               # playwright-core (node_modules is not committed)

Usage (repository root; the Python that runs ComfyUI, which has Pillow):
    COMFYUI_DIR=/path/to/ComfyUI /path/to/comfy-venv/bin/python tools/thumbnails.py [NAME ...]
        NAME: workflow names (default: every workflows/*.json)
        --size 1800x1200  the browser window (default)
        --width 1200      the thumbnail's width (the screenshot is scaled down to it)
        --keep DIR        also keep the PNGs, the frontend's prompts and the load reports in DIR
        CHROMIUM=/path    another Chromium binary
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / "workflows"
SHOOT = REPO / "tools" / "thumbnails" / "shoot.mjs"
SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "Comfy.Minimap.Visible": False,
    "Comfy.Workflow.ShowMissingNodesWarning": True,
    "Comfy.Workflow.ShowMissingModelsWarning": False,
    "Comfy.Graph.CanvasInfo": False,
    "Comfy.Workflow.WorkflowTabsPosition": "Sidebar",
    "LiteGraph.Canvas.MinFontSizeForLOD": 1,  # draw text and widgets at thumbnail zoom too
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Which widget of each loader names a model file, and the models/ folder it lists.
MODEL_WIDGETS = {"CheckpointLoaderSimple": ((0, "checkpoints"),), "UNETLoader": ((0, "diffusion_models"),),
                 "CLIPLoader": ((0, "text_encoders"),), "DualCLIPLoader": ((0, "text_encoders"), (1, "text_encoders")),
                 "VAELoader": ((0, "vae"),)}


def model_files(workflow: dict) -> set[tuple[str, str]]:
    """(folder, name) of every model file the workflow's loaders name."""
    return {(folder, n["widgets_values"][i]) for n in workflow["nodes"] for i, folder in MODEL_WIDGETS.get(n["type"], ())}


def start_comfyui(comfy_dir: Path, base: Path, port: int, log) -> subprocess.Popen:
    cmd = [sys.executable, str(comfy_dir / "main.py"), "--cpu", "--listen", "127.0.0.1", "--port", str(port),
           "--base-directory", str(base), "--database-url", "sqlite:///:memory:", "--disable-auto-launch",
           "--dont-print-server"]
    proc = subprocess.Popen(cmd, cwd=comfy_dir, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ComfyUI exited with {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/object_info", timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(1)
    proc.terminate()
    raise RuntimeError("ComfyUI did not answer within 300 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshots of the example workflows in ComfyUI's frontend")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--size", default="1800x1200")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args(argv)
    comfy_dir = os.environ.get("COMFYUI_DIR")
    if not comfy_dir:
        parser.error("set COMFYUI_DIR to a ComfyUI checkout")
    if not (SHOOT.parent / "node_modules" / "playwright-core").is_dir():
        parser.error("run `npm ci --prefix tools/thumbnails` first")
    from PIL import Image

    files = [WORKFLOWS / f"{n}.json" for n in args.names] or sorted(WORKFLOWS.glob("*.json"))
    width, height = args.size.split("x")
    with tempfile.TemporaryDirectory(prefix="ersde-thumbs-") as tmp:
        base = Path(tmp)
        (base / "custom_nodes").mkdir()
        (base / "custom_nodes" / "ComfyUI-ER-SDE").symlink_to(REPO, target_is_directory=True)
        for f in files:
            for folder, name in model_files(json.loads(f.read_text())):
                (base / "models" / folder).mkdir(parents=True, exist_ok=True)
                (base / "models" / folder / name).touch()
        (base / "user" / "default").mkdir(parents=True)
        (base / "user" / "default" / "comfy.settings.json").write_text(json.dumps(SETTINGS))
        shots = base / "shots"
        shots.mkdir()
        port = free_port()
        with open(base / "comfyui.log", "w") as log:
            proc = start_comfyui(Path(comfy_dir).resolve(), base, port, log)
            try:
                subprocess.run(["node", str(SHOOT), f"http://127.0.0.1:{port}/", str(shots), width, height,
                                *map(str, files)], check=True, timeout=900)
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        problems = []
        for f in files:
            name = f.stem
            report = json.loads((shots / f"{name}.errors.json").read_text())
            if report["missing"] or report["pageerrors"]:
                problems.append(f"{name}: missing node types {report['missing']}, page errors {report['pageerrors']}")
            prompt = json.loads((shots / f"{name}.prompt.json").read_text())
            twin = json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())
            strip = lambda p: {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in p.items()}
            if strip(prompt) != strip(twin):
                problems.append(f"{name}: the frontend's prompt differs from workflows/api/{name}.json")
            image = Image.open(shots / f"{name}.png").convert("RGB")
            if image.width > args.width:
                image = image.resize((args.width, round(image.height * args.width / image.width)), Image.LANCZOS)
            image.save(WORKFLOWS / f"{name}.jpg", "JPEG", quality=85, optimize=True)
            print(f"wrote workflows/{name}.jpg")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for p in shots.iterdir():
                shutil.copy(p, args.keep / p.name)
            shutil.copy(base / "comfyui.log", args.keep / "comfyui.log")
        for p in problems:
            print("PROBLEM:", p, file=sys.stderr)
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
