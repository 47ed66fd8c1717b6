"""The WebUI extension against a real Forge checkout (WEBUI_DIR); skipped without one.

    WEBUI_DIR=/path/to/stable-diffusion-webui-forge python -m pytest tests/webui

The host is booted once, in a separate interpreter (tests/webui/host_probe.py), so its
`modules` package and vendored k_diffusion never meet the rest of the suite's imports.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from webui_hosts import GLUE, LABELS, SPECS, assert_policy_got, require_host, result, run_probe
# Forge and reForge hand samplers the unconditional prediction, so they list the CFG++ entries too
CFG_PP_LABELS = list(GLUE.CFG_PP_LABELS)
PROBE = Path(__file__).with_name("host_probe.py")
WEBUI_DIR = os.environ.get("WEBUI_DIR")

pytestmark = require_host(WEBUI_DIR)


@pytest.fixture(scope="module")
def probe() -> dict:
    return run_probe(PROBE, {"WEBUI_DIR": WEBUI_DIR, "ERSDE_WEBUI_LABELS": json.dumps(LABELS)}, timeout=600)


def test_host_boots_without_ui_or_checkpoint(probe):
    result(probe, "host_boots")


def test_script_registers_the_samplers_and_their_cfg_pp_entries_on_first_load(probe):
    assert result(probe, "script_loads_through_host_loader") == LABELS + CFG_PP_LABELS


def test_loading_script_twice_adds_nothing(probe):
    assert result(probe, "script_loaded_twice") == []
    lists = result(probe, "sampler_lists")
    assert lists["after_second"] == lists["after_first"]
    assert len(lists["after_first"]) == lists["builtin_count"] + len(LABELS) + len(CFG_PP_LABELS)


def test_host_sampler_list_contains_each_label_once(probe):
    lists = result(probe, "sampler_lists")
    for label in LABELS:
        assert lists["all_samplers"].count(label) == 1, label
    assert lists["all_samplers_map"] == LABELS
    assert lists["visible"] == LABELS  # the dropdown and the API list read these


def test_host_resolves_aliases_and_infotext_names(probe):
    lists = result(probe, "sampler_lists")
    for label in LABELS:
        for alias in SPECS[label].aliases:
            assert lists["samplers_map"][alias] == label
        assert lists["samplers_map"][label.lower()] == label
    assert lists["infotext"] == LABELS


def test_entries_carry_karras_brownian_and_ensd_options(probe):
    options = result(probe, "sampler_lists")["options"]
    for label in LABELS:
        assert options[label] == GLUE.SAMPLER_OPTIONS


@pytest.mark.parametrize("label", LABELS)
def test_sampler_runs_through_host_kdiffusion_sampler_on_tiny_model(probe, label):
    run = result(probe, "samples_through_kdiffusion_sampler")[label]
    assert run["kdiffusion_sampler"], run["sampler_class"]
    assert run["func"] == SPECS[label].funcname
    assert run["finite"] and run["shape"] == [1, 4, 2, 2]
    assert run["model_calls"] == 6  # one model call a step
    assert run["schedule_type"] == "Karras"  # "Automatic" resolved to the entry's scheduler


def test_noise_is_per_seed_and_batch_invariant(probe):
    diffs = result(probe, "batch_invariant_noise")
    assert diffs["max_diff_same_seed"] < 1e-5, "seed 77 alone and in a batch with 78 differ"
    assert diffs["max_diff_other_seed"] > 1e-2, "different seeds gave the same image"


def test_flow_model_is_detected_and_first_sigma_nudged_below_one(probe):
    flow = result(probe, "flow_model")
    assert flow["prediction_type"] == "const" and flow["detected_flow"]
    assert flow["host_first_sigma"] == pytest.approx(1.0)
    assert flow["model_sigmas"][0] < 1.0, "the model was called at sigma 1 (alpha 0)"
    assert flow["model_sigmas"][0] == pytest.approx(1.0 - 1e-4)
    assert flow["finite"]


def test_cfg_pp_gets_the_unconditional_prediction_through_the_hosts_cfg(probe):
    run = result(probe, "cfg_pp")
    assert run["func"] == "sample_er_sde_solver_3_cfg_pp" and run["finite"]
    assert run["post_cfg_calls"] == run["model_calls"] == 6, run
    assert run["uncond_given"], "the host's CFG handed over no unconditional prediction"
    assert run["max_diff_to_plain"] > 1e-4, "CFG++ gave the plain CFG result"
    assert run["options_restored"], "the Forge unet's model_options still hold the CFG++ hook"


def test_auto_entry_hands_the_hosts_cfg_scale_to_the_policy(probe):
    auto = result(probe, "auto_reads_cond_scale")
    weak, strong = assert_policy_got(auto["1.5"], 1.5), assert_policy_got(auto["7.0"], 7.0)
    assert weak != strong, "cfg 1.5 and 7 sampled alike: the cfg did not reach the policy"
    for run in auto.values():
        assert run["finite"] and run["model_calls"] == 6
