"""bench.pc_seeds and bench.auto_limits: the ODE verdicts per start set, the schedule swap and the
per-sample adaptive order (issue 21's limits of a plan-only policy)."""
import json

import torch

import bench.auto_limits as auto_limits
import bench.pc_seeds as pc_seeds
from k_diffusion_ext import sample_er_sde
from k_diffusion_ext.analytic import karras_sigmas, mixture_denoiser


def test_seed_report_names_each_start_sets_winner_and_auto(tmp_path):
    pc_seeds.main(["--scales", "gmix:8", "--nfes", "6,12", "--starts", "2", "--n", "16", "--out", str(tmp_path),
                   "--tag", "tiny"])
    text = (tmp_path / "tiny.md").read_text()
    results = json.loads((tmp_path / "tiny.json").read_text())["results"]["gmix:8"]["rows"]
    assert len(results["ER-SDE-3 PC"]["12"]) == 2, "one score per start set"
    assert results["ER-SDE-1"]["6"][0] != results["ER-SDE-1"]["6"][1], "the start sets are not independent"
    assert "| gmix:8 | 6 | ER-SDE-1 |" in text, "auto's pick at cfg 8 and 6 steps (order 1) is not reported"
    pc_seeds.main(["--merge", "tiny", "--out", str(tmp_path), "--tag", "again"])
    assert "- from: `python -m bench.pc_seeds --scales gmix:8" in (tmp_path / "again.md").read_text()


def test_adaptive_order_is_order_3_where_the_series_shrinks():
    """Smooth problem, many small steps: every sample takes order 3, so the variant is the corrected
    order-3 solver (without the corrector) to rounding."""
    model = mixture_denoiser(torch.zeros(1, 2, dtype=torch.float64), 1.0)  # one Gaussian: x0 smooth in lambda
    sigmas = karras_sigmas(40, 0.5, 10.0).to(torch.float64)
    x = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 10.0
    got = auto_limits.adaptive_sampler(False)(model, x, sigmas, 0)
    want = sample_er_sde(model, x, sigmas, disable=True, order=3, noise_scale="ode")
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_the_other_schedules_span_what_their_names_say():
    sd, exp, k40 = (auto_limits.SCHEDULES[name](10) for name in
                    ("SD (Karras 0.0292-14.6)", "exponential (0.0292-14.6)", "Karras (0.01-40)"))
    for lam, (high, low) in ((sd, (14.6, 0.0292)), (exp, (14.6, 0.0292)), (k40, (40.0, 0.01))):
        assert len(lam) == 11 and lam[-1] == 0
        torch.testing.assert_close(lam[[0, -2]], torch.tensor([high, low], dtype=torch.float64), rtol=1e-6, atol=0)
    log_steps = exp[:-1].log().diff()
    torch.testing.assert_close(log_steps, log_steps[:1].expand_as(log_steps)), "exponential: equal steps in log lambda"
