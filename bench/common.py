"""Shared bits of the benchmarks: the report header (date, machine, software, commit, command), markdown
tables, output folders (bench/results/NAME per benchmark)."""
from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu_name()}, {cores} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"{gpu}, Python {platform.python_version()}, {platform.system()}")


def versions() -> str:
    parts = []
    try:
        from importlib.metadata import version
        parts.append(f"k-diffusion {version('k-diffusion')}")
    except Exception:  # noqa: BLE001
        parts.append("k-diffusion not installed")
    root = os.environ.get("COMFYUI_DIR")
    if root:
        try:
            rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, timeout=10).stdout.strip()
        except Exception:  # noqa: BLE001
            rev = ""
        if not rev:
            try:
                text = (Path(root) / "comfyui_version.py").read_text()
                rev = "v" + text.split("__version__", 1)[1].split('"')[1]
            except (OSError, IndexError):
                rev = "(version unknown)"
        parts.append(f"ComfyUI {rev}")  # the version, never the local path (results files are shared)
    return ", ".join(parts)


def commit() -> str:
    """The project's commit, marked when the code that measures or is measured differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "bench/*.py", "bench/models",
                                "k_diffusion_ext"], capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown (no git)"
    return (head + " with uncommitted changes" if dirty else head) or "unknown (no git)"


def header(title: str, argv: list[str]) -> str:
    now = datetime.datetime.now().astimezone()
    return (f"# {title}\n\n"
            f"- date: {now:%Y-%m-%d %H:%M %Z}\n"
            f"- machine: {machine_line()}\n"
            f"- software: {versions()}\n"
            f"- commit: {commit()}\n"
            f"- command: `python -m {shlex.join(argv)}`\n")


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def out_dir(name: str, path: str | None = None, quick: bool = False) -> Path:
    """Where benchmark NAME writes: --out if given, else bench/results/NAME (its quick runs in quick/, not kept)."""
    d = Path(path) if path else (RESULTS / name / "quick" if quick else RESULTS / name)
    d.mkdir(parents=True, exist_ok=True)
    return d


def merge_runs(folder: Path, tags: str) -> tuple[dict, list[list[str]]]:
    """The "results" of finished runs (later tags win) and the commands that made them (a merged
    run's own sources), for scripts that write {"command", "from", "results"}."""
    results: dict = {}
    sources: list[list[str]] = []
    for tag in tags.split(","):
        run = json.loads((folder / f"{tag}.json").read_text())
        results.update(run["results"])
        sources += run.get("from") or [run["command"]]
    return results, sources


def from_lines(module: str, sources: list[list[str]]) -> str:
    """A report header's "- from:" line per source command."""
    return "".join(f"- from: `python -m {module} {shlex.join(c)}`\n" for c in sources)
