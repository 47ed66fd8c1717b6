""".ci/hosts.py's host venvs see what the interpreter running CI has installed, in a venv or not
(a venv made with --system-site-packages alone sees only the base interpreter's packages)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _hosts():
    spec = importlib.util.spec_from_file_location("ersde_test_ci_hosts", ROOT / ".ci" / "hosts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_host_venv_imports_pytest_and_torch_from_the_running_environment(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    pth = _hosts().see_running_environment(python)
    assert pth.parent.parent.parent == venv / "lib"  # venv/lib/pythonX.Y/site-packages/<pth>
    seen = subprocess.run([str(python), "-c", "import pytest, torch; print(pytest.__file__); print(torch.__file__)"],
                          capture_output=True, text=True, check=True).stdout.split()
    assert seen == [pytest.__file__, torch.__file__]
