"""`python -m bench`: one entry point that lists every benchmark and runs one by name."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

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


RESULTS = ROOT / "bench" / "results"
HEADER_LINES = ("- date: ", "- machine: ", "- commit: ")


def test_every_results_folder_belongs_to_a_listed_benchmark_and_each_has_one():
    # a report nobody can remake, or a benchmark whose numbers are nowhere, is what the registry rules out
    entries = {p.name for p in RESULTS.iterdir() if p.name != "__pycache__"}
    loose = sorted(p.name for p in RESULTS.iterdir() if p.is_file())
    assert not loose, f"files directly under bench/results (each belongs in its benchmark's folder): {loose}"
    assert entries == {b.report.rsplit("/", 1)[1] for b in BENCHMARKS.values()}, (
        f"folders without a benchmark: {sorted(entries - {b.report.rsplit('/', 1)[1] for b in BENCHMARKS.values()})}; "
        f"benchmarks without a folder: {sorted({b.report.rsplit('/', 1)[1] for b in BENCHMARKS.values()} - entries)}")
    for name in BENCHMARKS:
        assert list((RESULTS / name).rglob("*.md")), f"bench/results/{name} holds no report"


@pytest.mark.parametrize("report", sorted(RESULTS.rglob("*.md")), ids=lambda p: str(p.relative_to(RESULTS)))
def test_each_report_says_when_where_and_how_it_was_made(report):
    head = report.read_text(encoding="utf-8").split("\n## ", 1)[0].splitlines()
    missing = [k for k in HEADER_LINES if not any(line.startswith(k) for line in head)]
    assert not missing, f"{report.relative_to(ROOT)}'s header lacks {missing}"
    commands = [line for line in head if line.startswith(("- command: `python -m bench.", "- merged from"))]
    assert commands, f"{report.relative_to(ROOT)}'s header names no `python -m bench.NAME` command"
    module = report.relative_to(RESULTS).parts[0]
    assert f"bench.{module}" in commands[0], f"{report.relative_to(ROOT)} was made by {commands[0]!r}, not bench.{module}"


def test_a_new_report_records_the_commit_that_made_it():
    from bench.common import header
    text = header("t", ["bench.few_step"])
    commit = next(line for line in text.splitlines() if line.startswith("- commit: "))
    assert commit != "- commit: " and "unknown" not in commit  # this checkout is a git clone


def test_show_names_a_benchmarks_models_samplers_protocol_and_report():
    out = subprocess.run([sys.executable, "-m", "bench", "show", "quality"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "models: " in out and "samplers: " in out and "report: bench/results/quality/" in out
    assert "Protocol" in out  # the module docstring's, fixed before results were looked at


PRODUCT = ("k_diffusion_ext", "ersde_nodes", "ersde_diffusers", "scripts")


def test_the_benchmarks_stay_smaller_than_the_product_they_measure():
    # a study that no longer moves a decision is retired (its table stays in docs/), not kept
    def lines(folder: str) -> int:
        return sum(len(p.read_text().splitlines()) for p in (ROOT / folder).rglob("*.py"))
    bench_lines, product_lines = lines("bench"), sum(lines(f) for f in PRODUCT)
    assert bench_lines < product_lines, f"bench/ has {bench_lines} lines of Python, the product {product_lines}"
