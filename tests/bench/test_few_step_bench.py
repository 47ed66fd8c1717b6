"""bench.few_step (cfg 1, 4-10 NFE) and the peer list a host's ComfyUI version decides."""
import json
from types import SimpleNamespace

import torch

import bench.few_step as few_step
from bench.samplers import COMFY_PEERS, EXTRA_SAMPLERS, available_peers, ours, sigmas_for


def test_a_peer_the_host_lacks_is_left_out_with_a_note():
    # ComfyUI 0.3.64's sampling module: every peer but the two 0.33 added
    added_in_033 = {"exp_heun_2_x0", "exp_heun_2_x0_sde"}
    host = SimpleNamespace(**{f"sample_{name}": None for name, *_ in COMFY_PEERS
                              if name not in added_in_033 | set(EXTRA_SAMPLERS)})
    have, notes = available_peers(host)
    assert {p[0] for p in have} == {p[0] for p in COMFY_PEERS} - added_in_033
    assert len(notes) == 1 and all(name in notes[0] for name in added_in_033)
    host_033 = SimpleNamespace(**vars(host), **{f"sample_{name}": None for name in added_in_033})
    assert available_peers(host_033) == (list(COMFY_PEERS), [])


def test_exp_heun_peers_sit_in_the_groups_of_the_sde_they_solve():
    groups = {name: group for name, group, *_ in COMFY_PEERS}
    assert groups["exp_heun_2_x0"] == "ode"                 # seeds_2 with eta 0
    assert groups["exp_heun_2_x0_sde"] == groups["seeds_2"] == "reverse_sde"  # eta 1


def test_auto_at_cfg_1_runs_what_its_table_names_for_few_steps():
    # what the few-step report says of er_sde_solver_auto on an unguided model: at cfg 1 and up to
    # 11 steps, order 2 with the corrector (k_diffusion_ext.auto_policy)
    from k_diffusion_ext.analytic import mixture_denoiser
    from k_diffusion_ext.auto_policy import choose, setting
    assert setting(choose("paper", 1.0, 6)) == (2, "predictor_corrector")
    means = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = mixture_denoiser(means, 0.3)
    for space in ("edm", "flow"):
        sigmas = sigmas_for(space, 6, torch.float64)
        x = torch.randn(32, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * sigmas[0]
        auto = dict(few_step.OURS)["er_sde_solver_auto"](model, x, sigmas, 5, space)
        torch.testing.assert_close(auto, ours(2, scheme="predictor_corrector")(model, x, sigmas, 5, space))
        assert not torch.equal(auto, ours(3)(model, x, sigmas, 5, space))


def test_few_step_scores_every_dropdown_name_at_each_nfe(tmp_path, monkeypatch):
    monkeypatch.delenv("COMFYUI_DIR", raising=False)  # ours only: the paper group against ER-SDE-3 at ref NFE
    few_step.main(["--benchmarks", "mixture", "--nfes", "4,6", "--n", "64", "--seeds", "1", "--ref-nfe", "12",
                   "--out", str(tmp_path), "--tag", "tiny"])
    data = json.loads((tmp_path / "tiny.json").read_text())["results"]["mixture"]
    names = [name for name, _ in few_step.OURS]
    assert set(data["samplers"]) == set(names), "the report scores a sampler that is not a dropdown name, or misses one"
    assert data["references"]["paper"]["sampler"] == "ER-SDE-3"
    for name in names:
        assert data["calls"][name] == {"4": 4, "6": 6}, f"{name} does not run at the requested NFE"
        assert all("dist" in cell for cells in data["cells"][name].values() for cell in cells)
    text = (tmp_path / "tiny.md").read_text()
    assert "| **er_sde_solver_auto** | paper |" in text and "the peers need COMFYUI_DIR" in text
