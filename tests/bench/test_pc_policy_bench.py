"""bench.pc_policy: auto scored against the best fixed setting from finished runs, and the exact guided mixture."""
import json

import torch

import bench.pc_auto as pc_auto
import bench.pc_policy as pc_policy
from bench.models import guided_mixture_problem


def test_policy_report_scores_auto_as_the_setting_it_picks(tmp_path, monkeypatch):
    monkeypatch.delenv("COMFYUI_DIR", raising=False)
    pc_auto.main(["--scales", "gmix:7,flow_gmix:1", "--parts", "ode", "--nfes", "6,30", "--ode-n", "16",
                  "--out", str(tmp_path), "--tag", "tiny", "--pc", "none"])
    pc_policy.main(["--fit", "tiny", "--held-out", "", "--out", str(tmp_path), "--tag", "tiny_policy"])
    text = (tmp_path / "tiny_policy.md").read_text()
    rows = json.loads((tmp_path / "tiny.json").read_text())["ode"]["gmix_cfg7"]["rows"]
    assert rows[pc_auto.AUTO_LABEL]["6"] == rows["ER-SDE-1"]["6"], "auto at cfg 7 and 6 steps is not ER-1"
    assert "| ode | gmix_cfg7 | 6 | ER-SDE-1 |" in text
    assert "| ode | flow_gmix_cfg1 | 30 | ER-SDE-3 PC |" in text
    assert "## Unknown guidance" in text


def test_guided_mixture_is_the_exact_cfg_of_its_classes():
    p = guided_mixture_problem("edm", 4.0, 8)
    x = torch.randn(8, p.dim, dtype=torch.float64)
    sigma = torch.tensor(0.7, dtype=torch.float64)
    m = p.model
    du = m.uncond(x, sigma)
    dc = torch.stack([m.cond[int(c)](x[i:i + 1], sigma)[0] for i, c in enumerate(m.labels)])
    torch.testing.assert_close(m(x, sigma), du + 4.0 * (dc - du))
    flow = guided_mixture_problem("flow", 4.0, 8).model
    s = torch.tensor(0.4, dtype=torch.float64)
    torch.testing.assert_close(flow(x * 0.6, s), m(x, torch.tensor(0.4 / 0.6, dtype=torch.float64)))
