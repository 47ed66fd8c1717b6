"""Released names and node input values keep their outputs (tests/golden/cases.py)."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch


def _load_cases():
    name = "ersde_golden_cases"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("cases.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


SHAPE, cases, golden_file = _load_cases().SHAPE, _load_cases().cases, _load_cases().golden_file

RELEASES = ["0.2.0"]


def stored(version: str) -> dict:
    return json.loads(golden_file(version).read_text())


@pytest.mark.parametrize("version", RELEASES)
def test_every_current_case_has_a_golden_output(version):
    missing = set(cases()) - set(stored(version)["outputs"])
    assert not missing or version != RELEASES[-1], f"new cases without a golden output: {sorted(missing)}"


@pytest.mark.parametrize("version", RELEASES)
@pytest.mark.parametrize("case", sorted(stored(RELEASES[-1])["outputs"]))
def test_released_output_is_unchanged(version, case):
    golden = stored(version)["outputs"]
    if case not in golden:
        pytest.skip(f"{case!r} was added after {version}")
    known = cases()
    assert case in known, f"{case!r} was released in {version} and must still exist"
    got = known[case]()
    want = torch.tensor(golden[case], dtype=torch.float32).view(SHAPE)
    assert torch.isfinite(got).all()
    # float rounding only (another CPU or torch version); a changed noise draw or update moves values by ~1e-2
    torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-5,
                               msg=lambda m: f"{case!r} no longer gives its {version} output: {m}")
