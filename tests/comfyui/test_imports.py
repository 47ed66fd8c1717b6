"""The adapter imports three ways (DESIGN.md); outside ComfyUI nothing imports a host module.
These tests need no ComfyUI and run in CI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

NO_HOST = """
import sys
hosts = [m for m in sys.modules if m.split('.')[0] in ('comfy', 'comfy_api', 'nodes', 'execution', 'folder_paths',
                                                       'modules', 'ldm_patched', 'backend')]
assert not hosts, f"imported host modules: {hosts}"
"""


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_ersde_nodes_imports_top_level_with_top_level_solver(tmp_path):
    run_python(f"""
import sys; sys.path.insert(0, {str(REPO)!r})
import k_diffusion_ext, ersde_nodes
from ersde_nodes import names, model_type, sampling, registration, specs, entry, nodes_classic
assert sampling.solver is k_diffusion_ext
assert [s.name for s in specs.sampler_node_inputs()] == list(names.SAMPLER_INPUTS)
{NO_HOST}""", tmp_path)


def test_root_package_under_any_folder_name_exports_nothing_outside_comfyui(tmp_path):
    clone = tmp_path / "my ER-SDE.clone"
    clone.symlink_to(REPO, target_is_directory=True)
    run_python(f"""
import importlib.util, sys
name = {str(clone).replace('.', '_x_')!r}
spec = importlib.util.spec_from_file_location(name, {str(clone / '__init__.py')!r})
module = importlib.util.module_from_spec(spec); sys.modules[name] = module; spec.loader.exec_module(module)
assert not hasattr(module, "comfy_entrypoint") and not getattr(module, "NODE_CLASS_MAPPINGS", None)
sub = importlib.import_module(name + ".ersde_nodes.sampling")
assert sub.solver.__name__ == name + ".k_diffusion_ext", sub.solver.__name__
{NO_HOST}""", tmp_path)


def test_registration_without_comfyui_warns_and_returns_false(tmp_path):
    result = run_python(f"""
import sys; sys.path.insert(0, {str(REPO)!r})
from ersde_nodes.registration import register_samplers
assert register_samplers() is False
{NO_HOST}""", tmp_path)
    assert "cannot import ComfyUI" in result.stderr
