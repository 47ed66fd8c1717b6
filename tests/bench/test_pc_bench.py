"""bench.pc: the predictor-corrector study runs end to end on a tiny problem and writes its rows."""
import json

import bench.pc as pc


def test_study_writes_every_variant_in_the_ode_and_paper_groups(tmp_path, monkeypatch):
    monkeypatch.delenv("COMFYUI_DIR", raising=False)  # peers from PyPI k-diffusion: fast and always there
    pc.main(["--benchmarks", "mixture", "--parts", "ode,paper", "--nfes", "6", "--ode-n", "16", "--n", "64",
             "--seeds", "1", "--ref-nfe", "12", "--out", str(tmp_path), "--tag", "tiny"])
    data = json.loads((tmp_path / "tiny.json").read_text())
    ours = {s.name for s in pc.candidates("ode")}
    assert ours <= set(data["ode"]["mixture"]["rows"]), "an ODE variant is missing from the study"
    assert ours <= set(data["paper"]["mixture"]["rows"]), "a paper-noise variant is missing from the study"
    pc3, plain3 = data["ode"]["mixture"]["rows"]["ER-SDE-3 PC"]["6"], data["ode"]["mixture"]["rows"]["ER-SDE-3"]["6"]
    assert pc3["calls"] == plain3["calls"] == 6, "the corrector must not cost a model call"
    assert "| ER-SDE-3 PC |" in (tmp_path / "tiny.md").read_text()
