"""bench.overhead --diffusers: the diffusers schedulers' rows (a smoke run, tiny and quick)."""
import json

import pytest

pytest.importorskip("diffusers")

from bench.overhead import DIFFUSERS_DPM_SDE, DIFFUSERS_SA, ER3, ER3_SCHEDULER, main  # noqa: E402


def test_diffusers_rows_are_written(tmp_path):
    main(["--diffusers", "--quick", "--repeats", "1", "--steps", "4", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "overhead_diffusers.json").read_text())["results"]
    timed = {r["sampler"] for r in results if "us_per_step" in r}
    assert timed == {ER3, ER3_SCHEDULER, DIFFUSERS_DPM_SDE, DIFFUSERS_SA}
    assert all(r["us_per_step"] > 0 for r in results if "us_per_step" in r)
    ops = {r["sampler"]: r["ops_per_step"] for r in results if "ops_per_step" in r}
    # the scheduler is the library's update plus the conversion of the model output to x0
    assert ops[ER3_SCHEDULER] <= ops[ER3] + 4
    text = (tmp_path / "overhead_diffusers.md").read_text()
    assert "| cpu 1t SD1.5 b1 float32 |" in text and "ER-SDE scheduler / DPM++ SDE" in text
