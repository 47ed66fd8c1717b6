"""bench.pc_auto: scheme auto against the variants on held-out guidance scales, end to end on a tiny run."""
import json

import bench.pc_auto as pc_auto


def test_auto_scores_as_the_variant_its_guidance_picks(tmp_path, monkeypatch):
    monkeypatch.delenv("COMFYUI_DIR", raising=False)  # no peers needed: ER-SDE-3 is the reference then
    pc_auto.main(["--scales", "edm:7,edm:1", "--parts", "ode,paper", "--nfes", "6", "--ode-n", "16", "--n", "64",
                  "--seeds", "1", "--ref-nfe", "12", "--out", str(tmp_path), "--tag", "tiny"])
    data = json.loads((tmp_path / "tiny.json").read_text())
    paper7, ode7, ode1 = (data[g][m]["rows"] for g, m in (("paper", "edm_cfg7"), ("ode", "edm_cfg7"), ("ode", "edm_cfg1")))
    # 6 steps at cfg 7: under 1.75 steps per unit of guidance, order 1 without the corrector
    assert paper7[pc_auto.AUTO_LABEL]["6"] == paper7["ER-SDE-1"]["6"], "auto at cfg 7 and 6 steps with noise is not ER-1"
    assert ode7[pc_auto.AUTO_LABEL]["6"] == ode7["ER-SDE-1"]["6"], "auto at cfg 7 and 6 steps on the ODE is not ER-1"
    assert ode1[pc_auto.AUTO_LABEL]["6"] == ode1["ER-SDE-3 PC"]["6"], "auto unguided is not PC-3"
    assert ode1["ER-SDE-3 PC"]["6"] != ode1["ER-SDE-3"]["6"]
    assert "| ER-SDE-3 auto |" in (tmp_path / "tiny.md").read_text()


def test_picked_variant_names_the_plan_auto_runs():
    assert pc_auto.picked_variant("edm", 1.0, "ode", 20) == "ER-SDE-3 PC"
    assert pc_auto.picked_variant("edm", 3.0, "reverse_sde", 10) == "ER-SDE-2"
    assert pc_auto.picked_variant("flow", 6.0, "paper", 20) == "ER-SDE-1 PC"
    assert pc_auto.picked_variant("edm", 6.0, "ode", 10) == "ER-SDE-1"    # 1.7 steps per unit of cfg
    assert pc_auto.picked_variant("edm", 6.0, "ode", 25) == "ER-SDE-3"    # 4.2
    assert pc_auto.picked_variant("edm", 8.0, "ode", 40) == "ER-SDE-2"    # 5, but from cfg 7 order 2
    assert pc_auto.picked_variant("flow", 6.0, "ode", 10) == "ER-SDE-3 PC"  # flow models keep the corrector
    assert pc_auto.picked_variant("flow", 8.0, "ode", 25) == "ER-SDE-2 PC"
