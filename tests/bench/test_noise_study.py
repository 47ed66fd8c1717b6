"""bench.noise_study --spread: the seed-spread check of the reverse SDE on the exact mixture."""
import json

import bench.noise_study as noise_study


def test_spread_writes_exact_ours_and_randn_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(noise_study.sys, "argv", ["bench.noise_study", "--spread", "2", "--nfe", "6", "--out", str(tmp_path)])
    noise_study.main()
    data = json.loads((tmp_path / "noise_spread.json").read_text())
    assert set(data["fid"]) == {"exact samples", "ER-SDE-3 (reverse_sde), per-item counter noise",
                                "ER-SDE-3 (reverse_sde), torch.randn noise"}
    assert all(len(v) == 2 for v in data["fid"].values())
    # exact samples of 2000 lie near the exact moments; 6 NFE of the SDE lie measurably further
    assert max(data["fid"]["exact samples"]) < 0.06
    assert min(data["fid"]["ER-SDE-3 (reverse_sde), per-item counter noise"]) > max(data["fid"]["exact samples"])
    assert "| exact samples |" in (tmp_path / "noise_spread.md").read_text()
