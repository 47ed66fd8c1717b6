"""`python -m bench`: one entry point that lists every benchmark and runs one by name."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import bench
from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]


def test_every_benchmark_module_is_listed():
    # a module with a main() is a benchmark a user can run: it must be findable from `python -m bench`
    runnable = {f"bench.{m.name}" for m in pkgutil.iter_modules(bench.__path__)
                if not m.ispkg and m.name != "__main__" and "def main(" in (ROOT / "bench" / f"{m.name}.py").read_text()}
    assert runnable == {b.module for b in BENCHMARKS.values()}


def test_the_listing_names_each_benchmark_and_an_unknown_name_is_refused():
    out = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert all(f"{name} " in out for name in BENCHMARKS)
    bad = subprocess.run([sys.executable, "-m", "bench", "qualty"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown benchmark 'qualty'" in bad.stderr


def test_a_benchmark_runs_by_name_with_its_own_arguments():
    out = subprocess.run([sys.executable, "-m", "bench", "few_step", "--help"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "bench.few_step" in out or "few_step" in out
