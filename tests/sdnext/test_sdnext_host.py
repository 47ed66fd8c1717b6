"""The extension in a real SD.Next (SDNEXT_DIR, a scratch copy of the checkout: the probe writes
into it); skipped without one, failed without one under ERSDE_REQUIRE_HOST=1 (CI).

    SDNEXT_DIR=/scratch/sdnext python -m pytest tests/sdnext

tests/sdnext/sdnext_probe.py boots SD.Next once in a separate interpreter (its docstring says
which parts are SD.Next's own code and which are not) and prints what it saw.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from webui_hosts import GLUE, ROOT, load_by_path, result, run_probe

SDNEXT_DIR = os.environ.get("SDNEXT_DIR")
PROBE = Path(__file__).with_name("sdnext_probe.py")
SDNEXT = load_by_path("ersde_test_sdnext_adapter", "scripts/ersde_webui/sdnext.py")
ENTRIES = SDNEXT.entries(GLUE.SAMPLERS + GLUE.AUTO_SAMPLERS)
LABELS = [entry.label for entry in ENTRIES]
VP = [entry for entry in ENTRIES if not entry.flow]
OURS = "er_sde_nodes_webui_package.ersde_diffusers.scheduler.ERSDESolverScheduler"


def _is_sdnext(path: str | None) -> bool:
    return bool(path) and (Path(path) / "modules" / "sd_samplers_diffusers.py").is_file()


if not _is_sdnext(SDNEXT_DIR) and os.environ.get("ERSDE_REQUIRE_HOST"):
    pytest.fail(f"ERSDE_REQUIRE_HOST is set but SDNEXT_DIR={SDNEXT_DIR!r} is no SD.Next checkout", pytrace=False)
pytestmark = pytest.mark.skipif(not _is_sdnext(SDNEXT_DIR), reason="SDNEXT_DIR does not point at an SD.Next checkout "
                                "(set it to a scratch copy to run the SD.Next host tests)")


@pytest.fixture(scope="module")
def probe() -> dict:
    return run_probe(PROBE, {"SDNEXT_DIR": SDNEXT_DIR, "ERSDE_SDNEXT_LABELS": json.dumps(LABELS)}, timeout=900)


def test_host_boots_on_cpu_without_checkpoint(probe):
    result(probe, "scratch_prepared")
    print("host:", result(probe, "host_boots"))


def test_script_adds_every_entry_through_sdnext_script_loader(probe):
    loaded = result(probe, "extension_loads_through_host_loader")
    assert loaded["extension_listed"], "SD.Next's list_extensions() did not list the linked extension"
    assert loaded["added"] == [SDNEXT.SEPARATOR] + LABELS
    assert Path(loaded["sdnext_module"]).name == "sdnext.py"


def test_scheduler_and_solver_come_from_the_extension_folder_not_an_installed_copy(probe):
    loaded = result(probe, "extension_loads_through_host_loader")
    assert Path(loaded["scheduler_file"]).resolve() == ROOT / "ersde_diffusers" / "scheduler.py"
    assert loaded["solver_used"] == GLUE.SOLVER_MODULE_NAME  # the copy the entry script loaded by path
    assert loaded["top_level_imported"] == [], "an installed k_diffusion_ext / ersde_diffusers was imported"


def test_loading_script_twice_adds_nothing(probe):
    again = result(probe, "script_loaded_twice")
    assert again["registered"] == [] and again["unchanged"]


def test_entries_listed_once_each_in_dropdown_and_api_list(probe):
    lists = result(probe, "sampler_lists")
    assert lists["ours_in_order"] == LABELS
    assert set(lists["counts"].values()) == {1}, lists["counts"]
    assert lists["visible"] == LABELS  # the dropdown reads visible_samplers()
    assert lists["api_list"] == LABELS, "list_samplers() (the API's list) rebuilt without our entries"
    assert lists["group"] == [SDNEXT.SEPARATOR] and lists["after_own_group"]
    assert lists["builtin_kept"], "a row of SD.Next's own list moved or went missing"


def test_aliases_resolve_to_their_entries(probe):
    lists = result(probe, "sampler_lists")
    for entry in VP:
        assert lists["samplers_map"][entry.label.lower()] == entry.label
        for alias in entry.aliases:
            assert lists["aliases"][alias] == entry.label
            assert lists["samplers_map"][alias] == entry.label


def test_sdnext_own_er_sde_entries_untouched(probe):
    lists = result(probe, "sampler_lists")
    assert lists["own_unchanged"], "SD.Next's own ER-SDE rows, configs or constructors changed"
    assert lists["own_names"] == ["ER-SDE", "ER-SDE 2M", "ER-SDE 3M", "ER-SDE FlowMatch",
                                  "ER-SDE 2M FlowMatch", "ER-SDE 3M FlowMatch"]


@pytest.mark.parametrize("entry", VP, ids=[entry.label for entry in VP])
def test_txt2img_through_process_images_builds_our_scheduler_and_finite_image(probe, entry):
    run = result(probe, "txt2img_through_process_images")[entry.label]
    assert run["scheduler"] == OURS, f"SD.Next sampled with {run['scheduler']}"
    assert run["solver_order"] == entry.order
    assert run["config"]["scheme"] == ("auto" if entry.auto else "corrected")
    assert run["config"]["prediction_type"] == "epsilon" and run["config"]["beta_schedule"] == "scaled_linear"
    assert run["steps_run"] == 4 and run["finite"] and run["pipelines"] == ["StableDiffusionPipeline"]
    assert run["image_size"] == [32, 32] and run["image_std"] > 0
    assert f"Sampler: {entry.label}," in run["infotext"]


def test_img2img_through_process_images_runs_the_requested_steps(probe):
    run = result(probe, "img2img_through_process_images")
    assert run["pipelines"] == ["StableDiffusionImg2ImgPipeline"]  # SD.Next switched the loaded pipeline
    assert run["scheduler"] == OURS and run["solver_order"] == 3
    # SD.Next asks the pipeline for steps / strength + 1 = 17 steps; strength 0.5 runs the last 8
    assert run["steps_run"] == 8 and run["finite"]
    assert run["image_size"] == [32, 32]


def test_same_seed_same_image_other_seed_other_image(probe):
    seeds = result(probe, "seeds")
    assert seeds["max_diff_same_seed"] == 0, "seed 7 twice gave different images"
    assert seeds["max_diff_other_seed"] > 0, "seeds 7 and 8 gave the same image"


def test_sdnext_sampler_settings_reach_our_scheduler(probe):
    run = result(probe, "sampler_settings_reach_scheduler")
    assert run["scheduler"] == OURS
    assert run["config"]["use_karras_sigmas"] is True
    assert run["solver_order"] == 1  # SD.Next's "Solver order" setting overrides the entry's
    assert run["config"]["timestep_spacing"] == "trailing"
    assert run["config"]["prediction_type"] == "v_prediction"
    assert run["steps_run"] == 4 and run["finite"]


@pytest.mark.parametrize("entry", VP, ids=[entry.label for entry in VP])
def test_flow_model_gets_flowmatch_variant_with_flow_config(probe, entry):
    flow = result(probe, "flow_model")
    assert flow["model_type"] == "f1"
    run = flow[entry.label]
    assert run["scheduler"] == OURS, f"SD.Next fell back to {run['scheduler']}"
    assert run["name"] == entry.label + SDNEXT.FLOW_SUFFIX  # SD.Next's redirect for flow models
    assert run["config"]["solver_order"] == entry.order
    assert run["config"]["prediction_type"] == "flow_prediction"  # SD.Next's rule for names with "Flow"
    assert run["config"]["use_flow_sigmas"] is True  # SD.Next's default sigmas for its flow model types
    assert run["config"]["flow_shift"] == 3.0  # SD.Next's "Sampler shift" default
    assert run["steps_run"] == 4 and run["finite"]


def test_flow_shift_settings_reach_our_scheduler(probe):
    run = result(probe, "flow_model")["shifted"]
    assert run["scheduler"] == OURS and run["name"] == LABELS[2] + SDNEXT.FLOW_SUFFIX
    assert run["config"]["flow_shift"] == 5.0 and run["config"]["use_dynamic_shifting"] is True
    assert run["steps_run"] == 4 and run["finite"]  # FluxPipeline's mu reaches set_timesteps


def test_auto_entry_gets_the_cfg_of_the_job_sdnext_runs(probe):
    auto = result(probe, "auto_reads_the_job_cfg")
    for cfg in ("1.5", "7.0"):
        run = auto[cfg]
        assert run["scheduler"] == OURS and run["config"]["scheme"] == "auto"
        assert run["config"]["guidance_scale"] == float(cfg), "the job's cfg_scale did not reach the scheduler"
        assert run["steps_run"] == 6 and run["finite"]
        assert "Sampler: ER-SDE-Solver Auto," in run["infotext"]
    assert auto["outside_a_job"] is None  # no job in progress: unknown, never a stale job's scale


def test_auto_entry_reads_flux_true_cfg_and_the_hires_pass_scale(probe):
    auto = result(probe, "auto_reads_the_job_cfg")
    assert auto["flux_pipeline"] == 1.0  # FluxPipeline's guidance_scale is distilled guidance, not CFG
    assert auto["flux_pipeline_true_cfg"] == 4.0  # its true_cfg_scale is
    assert auto["hires_pass"] == 4.0  # SD.Next's hires pass hands the pipeline cfg_image where set
