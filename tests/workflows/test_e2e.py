"""End to end (opt-in; CI opts in, see .ci/hosts.py): shipped workflows run through one started
ComfyUI server on CPU, at 64x64 and 2 steps, with random-weight model files of their
architecture, and write an image:

- SD1.5 (stock KSampler with er_sde_solver_3): a full-size SD1.5 checkpoint made by
  random_sd15_checkpoint.py;
- SD3.5 Medium (ModelSamplingSD3 shift 3, KSampler with the flow models' sampler name): a tiny
  SD3-family checkpoint made by random_sd35_checkpoint.py (a 2-block MMDiT-X, CLIP-L, SD3 VAE).

The Flux.1 dev, Wan 2.2, Qwen-Image, Z-Image Turbo and Flux.2 dev workflows are validated by
ComfyUI (test_host_workflows.py) but not run here: ComfyUI builds their text encoders (T5-XXL,
umT5-XXL, Qwen2.5-VL 7B, Qwen3 4B, Mistral Small 3 24B), Flux's and Qwen-Image's transformer
widths and the Wan 2.2 VAE at fixed sizes, whatever the file holds, and detects Z-Image only at
its full width (docs/hosts.md, "Example workflows").

Run it with the Python that runs ComfyUI, either way:
    COMFYUI_DIR=/path/to/ComfyUI /path/to/comfy-venv/bin/python -m pytest -m e2e tests/workflows
    ERSDE_E2E=1 COMFYUI_DIR=/path/to/ComfyUI /path/to/comfy-venv/bin/python -m pytest tests/workflows/test_e2e.py
It needs about 3 GB of disk and 8 GB of memory; SD1.5 took 70 s on two CPU cores; SD3.5 took
54 s on two cores shared with other jobs (32 s of CPU time, server start included).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
API = REPO / "workflows" / "api"
WORKFLOW = API / "sd15_txt2img_ksampler_er_sde_solver_3.json"
SD35_WORKFLOW = API / "sd35_medium_txt2img_ksampler_er_sde.json"

pytestmark = pytest.mark.e2e


def opted_in(config) -> bool:
    if os.environ.get("ERSDE_E2E") == "1":
        return True
    expr = config.getoption("markexpr") or ""
    return "e2e" in expr and "not e2e" not in expr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, data: dict | None = None) -> dict:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """One ComfyUI server with this pack, on a throw-away base directory (models/ starts empty;
    each test writes its model files there before it posts its prompt)."""
    if not opted_in(request.config):
        pytest.skip("end-to-end run is opt-in: pytest -m e2e, or ERSDE_E2E=1")
    comfy_dir = os.environ.get("COMFYUI_DIR")
    if not comfy_dir:
        if os.environ.get("ERSDE_REQUIRE_HOST"):
            pytest.fail("ERSDE_REQUIRE_HOST is set but COMFYUI_DIR is not")
        pytest.skip("COMFYUI_DIR is not set: the end-to-end test needs a ComfyUI checkout")
    base = tmp_path_factory.mktemp("comfyui-base")
    (base / "custom_nodes").mkdir()
    (base / "custom_nodes" / "ComfyUI-ER-SDE").symlink_to(REPO, target_is_directory=True)
    for folder in ("checkpoints", "diffusion_models", "text_encoders", "vae"):
        (base / "models" / folder).mkdir(parents=True)
    port = free_port()
    log_path = base / "comfyui.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
         "--base-directory", str(base), "--database-url", "sqlite:///:memory:", "--disable-auto-launch"],
        cwd=comfy_dir, stdout=log, stderr=subprocess.STDOUT)
    srv = types.SimpleNamespace(comfy_dir=comfy_dir, base=base, url=f"http://127.0.0.1:{port}", proc=proc,
                                log_tail=lambda: log_path.read_text(errors="replace")[-4000:])
    try:
        deadline = time.time() + 300
        while True:
            assert proc.poll() is None, f"ComfyUI exited:\n{srv.log_tail()}"
            assert time.time() < deadline, f"ComfyUI did not start in 300 s:\n{srv.log_tail()}"
            try:
                info = http(f"{srv.url}/object_info/KSampler")
                break
            except OSError:
                time.sleep(1)
        assert "er_sde_solver_3" in info["KSampler"]["input"]["required"]["sampler_name"][0], \
            f"the pack did not load into the server:\n{srv.log_tail()}"
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def make_model_file(srv, script: str, folder: str, name: str) -> None:
    made = subprocess.run([sys.executable, str(HERE / script), srv.comfy_dir, str(srv.base / "models" / folder / name)],
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, f"{script} failed:\n{made.stderr[-3000:]}"


def run_prompt(srv, prompt: dict) -> dict:
    """POST the prompt, wait for it, return its history entry (fails on a refusal or an error)."""
    try:
        prompt_id = http(f"{srv.url}/prompt", {"prompt": prompt, "client_id": "ersde-e2e"})["prompt_id"]
    except urllib.error.HTTPError as e:
        pytest.fail(f"POST /prompt refused the workflow: {e.read().decode()[:3000]}")
    deadline = time.time() + 900
    while True:
        history = http(f"{srv.url}/history/{prompt_id}")
        if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
            break
        assert srv.proc.poll() is None, f"ComfyUI exited while running:\n{srv.log_tail()}"
        assert time.time() < deadline, f"the workflow did not finish in 900 s:\n{srv.log_tail()}"
        time.sleep(1)
    entry = history[prompt_id]
    assert entry["status"]["status_str"] == "success", f"{entry['status']}\n{srv.log_tail()}"
    return entry


def saved_png(srv, entry: dict, save_id: str) -> Path:
    from PIL import Image
    images = entry["outputs"][save_id]["images"]
    assert len(images) == 1
    path = srv.base / "output" / images[0]["subfolder"] / images[0]["filename"]
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"no PNG at {path}"
    assert Image.open(path).size == (64, 64)
    return path


def shrink(prompt: dict, sampler_name: str) -> None:
    """64x64 and 2 steps; the rest of the shipped graph stays as it is."""
    for node in prompt.values():
        if node["class_type"] in ("EmptyLatentImage", "EmptySD3LatentImage"):
            node["inputs"].update(width=64, height=64)
        if node["class_type"] == "KSampler":
            assert node["inputs"]["sampler_name"] == sampler_name
            node["inputs"]["steps"] = 2


def assert_not_uniform(path: Path) -> None:
    """A NaN or constant latent decodes to one flat colour."""
    from PIL import Image
    lo, hi = zip(*Image.open(path).convert("RGB").getextrema())
    assert max(h - l for l, h in zip(lo, hi)) > 0, f"{path.name} is one flat colour: the sampler returned NaN or a constant?"


def test_sd15_workflow_runs_on_a_started_comfyui_server_and_writes_an_image(server):
    started = time.time()
    prompt = json.loads(WORKFLOW.read_text())
    ckpt_name = next(n["inputs"]["ckpt_name"] for n in prompt.values() if n["class_type"] == "CheckpointLoaderSimple")
    make_model_file(server, "random_sd15_checkpoint.py", "checkpoints", ckpt_name)
    shrink(prompt, "er_sde_solver_3")
    save_id = next(k for k, n in prompt.items() if n["class_type"] == "SaveImage")
    path = saved_png(server, run_prompt(server, prompt), save_id)
    print(f"\ne2e: {path.name} written in {time.time() - started:.0f} s in all")


def test_sd35_workflow_runs_with_a_tiny_sd3_checkpoint_and_writes_an_image(server):
    """The SD3.5 graph as shipped (checkpoint loader, ModelSamplingSD3 shift 3, cfg 4.5, the flow
    sampler name) on a tiny SD3-family checkpoint: ComfyUI detects it as SD3 and samples a
    16-channel flow latent with our sampler."""
    from ersde_nodes import names
    started = time.time()
    prompt = json.loads(SD35_WORKFLOW.read_text())
    ckpt_name = next(n["inputs"]["ckpt_name"] for n in prompt.values() if n["class_type"] == "CheckpointLoaderSimple")
    make_model_file(server, "random_sd35_checkpoint.py", "checkpoints", ckpt_name)
    sampler = next(n["inputs"]["sampler_name"] for n in prompt.values() if n["class_type"] == "KSampler")
    assert sampler in names.SAMPLER_NAMES
    assert [n["inputs"]["shift"] for n in prompt.values() if n["class_type"] == "ModelSamplingSD3"] == [3.0]
    shrink(prompt, sampler)
    save_id = next(k for k, n in prompt.items() if n["class_type"] == "SaveImage")
    path = saved_png(server, run_prompt(server, prompt), save_id)
    assert_not_uniform(path)
    print(f"\ne2e: {path.name} written in {time.time() - started:.0f} s in all")
