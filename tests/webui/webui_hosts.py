"""What the WebUI host tests share: the labels under test, the host's flavour, the skip rule.

LABELS are every entry the extension registers on every host (scripts/ersde_webui/glue.py SAMPLERS and
AUTO_SAMPLERS), so a new sampler entry is covered by the host tests without editing them.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_by_path(name: str, relative: str):
    """A module of this repository loaded from its file under `name` (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GLUE = load_by_path("ersde_test_webui_hosts_glue", "scripts/ersde_webui/glue.py")
LABELS: list[str] = list(GLUE.LABELS) + list(GLUE.AUTO_LABELS)
SPECS = {spec.label: spec for spec in GLUE.SAMPLERS + GLUE.AUTO_SAMPLERS + GLUE.CFG_PP_SAMPLERS}


def assert_policy_got(run: dict, guidance: float, passes: int = 1) -> list:
    """`run` (a probe's AutoChoices record of one generation) handed the auto policy `guidance` in
    each of its `passes` sampling passes, and the policy chose what the library's auto_choice
    chooses for it; returns the choices."""
    from k_diffusion_ext import auto_choice
    calls = run["calls"]
    assert len(calls) == passes, f"the auto policy ran {len(calls)} times, expected {passes}"
    for call in calls:
        assert call["guidance_scale"] == guidance, f"the policy got cfg {call['guidance_scale']}, the host applied {guidance}"
        assert call["chosen"] == list(auto_choice(guidance, call["noise_shares"], call["order"],
                                                         *call["plan"]))
    return [call["chosen"] for call in calls]


def flavor(webui_dir: str | None) -> str | None:
    """'forge', 'reforge' or 'a1111' for an A1111-family checkout, None for anything else."""
    if not webui_dir or not (Path(webui_dir) / "modules" / "sd_samplers.py").is_file():
        return None
    root = Path(webui_dir)
    if (root / "backend").is_dir() and (root / "modules_forge").is_dir():
        return "forge"
    if (root / "ldm_patched").is_dir():
        return "reforge"
    return "a1111"


def require_host(webui_dir: str | None):
    """Skip without a WebUI checkout; fail instead under ERSDE_REQUIRE_HOST (CI)."""
    if flavor(webui_dir) is None and os.environ.get("ERSDE_REQUIRE_HOST"):
        pytest.fail(f"ERSDE_REQUIRE_HOST is set but WEBUI_DIR={webui_dir!r} is no A1111-family checkout",
                    pytrace=False)
    return pytest.mark.skipif(flavor(webui_dir) is None,
                              reason="WEBUI_DIR does not point at an A1111-family WebUI checkout "
                                     "(set it to a scratch copy to run the host tests)")


def run_probe(probe: Path, env: dict[str, str], timeout: int) -> dict:
    """Boot the host in its own interpreter (its `modules` and vendored k_diffusion never meet the
    suite's imports) and return what the probe printed after ERSDE_PROBE_RESULT."""
    run = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, **env})
    for line in reversed(run.stdout.splitlines()):
        if line.startswith("ERSDE_PROBE_RESULT "):
            results = json.loads(line.split(" ", 1)[1])
            results["_log"] = run.stdout[-20000:] + run.stderr[-20000:]
            return results
    pytest.fail(f"host probe printed no result (rc {run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}")


def result(probe: dict, name: str):
    """One probe step's detail; fails with the host's traceback if the step failed or never ran."""
    entry = probe.get(name)
    assert entry is not None, f"probe step {name!r} did not run (an earlier step failed?)"
    assert entry["ok"], f"probe step {name!r} failed in the host:\n{entry['detail']}"
    return entry["detail"]
