"""The extension in a real AUTOMATIC1111 or reForge (WEBUI_DIR, a scratch copy of the checkout).

    WEBUI_DIR=/scratch/stable-diffusion-webui python -m pytest tests/webui

tests/webui/a1111_probe.py boots the host in a separate interpreter, as webui.py does (CPU,
API only), with this repository linked into extensions/, and drives the host's HTTP API with a
tiny random-weight SD1 checkpoint built from the host's own classes. Forge has its own module
(test_webui_host.py); conftest.py collects the one that matches WEBUI_DIR.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from webui_hosts import GLUE, LABELS, SPECS, assert_policy_got, require_host, result, run_probe

# A1111 1.10+ and reForge hand samplers the unconditional prediction: the CFG++ entries are listed
# and sampled too
ALL_LABELS = LABELS + list(GLUE.CFG_PP_LABELS)
PROBE = Path(__file__).with_name("a1111_probe.py")
WEBUI_DIR = os.environ.get("WEBUI_DIR")
pytestmark = require_host(WEBUI_DIR)


@pytest.fixture(scope="module")
def probe() -> dict:
    alias = [SPECS[LABELS[-1]].aliases[0], LABELS[-1]]
    return run_probe(PROBE, {"WEBUI_DIR": WEBUI_DIR, "ERSDE_WEBUI_LABELS": json.dumps(ALL_LABELS),
                             "ERSDE_WEBUI_ALIAS": json.dumps(alias)}, timeout=900)


def test_scratch_checkout_has_ldm_and_the_extension_linked(probe):
    prepared = result(probe, "scratch_prepared")
    print("host:", prepared)  # which ldm / sgm / k_diffusion the run used
    assert Path(prepared["extension"]).resolve() == Path(__file__).resolve().parents[2]


def test_host_loads_extension_from_extensions_dir_and_registers_each_label(probe):
    boot = result(probe, "host_boots_with_extension_from_extensions_dir")
    assert boot["extension_listed"] and all(boot["extension_enabled"])
    assert boot["scripts_loaded"] == ["scripts/er_sde_samplers.py"]
    assert boot["registered"] == ALL_LABELS


def test_ui_reload_keeps_each_label_once(probe):
    reload = result(probe, "ui_reload_adds_nothing")
    assert reload["scripts_loaded_again"] == ["scripts/er_sde_samplers.py"]
    assert reload["registered_again"] == []
    assert reload["after"] == reload["before"]
    for label in ALL_LABELS:
        assert reload["after"].count(label) == 1, label


def test_sampler_lists_aliases_and_infotext_names(probe):
    lists = result(probe, "sampler_lists")
    for label in ALL_LABELS:
        assert lists["all_samplers"].count(label) == 1 and label in lists["visible"], label
        assert lists["samplers_map"][label.lower()] == label
        assert lists["options"][label]["scheduler"] == "karras"
    for label in ALL_LABELS:
        for alias in SPECS[label].aliases:
            assert lists["samplers_map"][alias] == label
    assert lists["infotext"] == ALL_LABELS


def test_reforge_keeps_its_own_er_sde_beside_ours(probe):
    if result(probe, "scratch_prepared")["flavor"] != "reforge":
        return  # A1111 has no sampler of its own by that name
    lists = result(probe, "sampler_lists")
    assert lists["all_samplers"].count("ER SDE") == 1 and "ER SDE" in lists["visible"]


@pytest.mark.parametrize("tab", ["txt2img", "img2img"])
def test_ui_sampler_dropdown_offers_each_label(probe, tab):
    choices = result(probe, "ui_sampler_dropdowns")[tab]
    assert [c for c in choices if c in ALL_LABELS] == ALL_LABELS


def test_api_samplers_lists_each_label_with_alias_and_options(probe):
    items = result(probe, "api_samplers")
    listing = items.pop()
    assert [item["name"] for item in items] == ALL_LABELS
    for item in items:
        assert item["aliases"] == list(SPECS[item["name"]].aliases)
        assert item["options"]["scheduler"] == "karras" and item["options"]["brownian_noise"] == "True"
    assert listing["count"] == len(listing["names"])


@pytest.mark.parametrize("label", ALL_LABELS)
def test_txt2img_api_samples_with_label_and_writes_it_into_infotext(probe, label):
    run = result(probe, "txt2img_each_sampler")[label]
    assert run["sampler_name"] == label
    assert f"Sampler: {label}," in run["infotexts"][0]
    assert "Schedule type: Karras" in run["infotexts"][0]  # "Automatic" resolved to the entry's scheduler
    assert run["model_calls"] == 6, run["sigmas"]  # one model call a step (cond and uncond batched)
    assert run["sigmas"] == sorted(run["sigmas"], reverse=True)
    assert run["finite"] and run["images"] == 1
    assert run["image_std"] > 0.5, "the decoded image is flat"


def test_api_treats_our_alias_as_it_treats_its_own(probe):
    alias = result(probe, "txt2img_by_alias")
    ours, builtin = alias["ours"], alias["builtin"]
    # A1111 and reForge resolve API sampler names by label only (an alias falls back to the default
    # sampler); a host that resolves aliases must resolve ours to our label.
    assert (ours["used"] == ours["label"]) == (builtin["used"] == builtin["label"]), alias


def test_img2img_api_samples_from_the_init_image(probe):
    run = result(probe, "img2img")
    assert f"Sampler: {LABELS[-1]}," in run["infotexts"][0] and run["finite"]
    assert run["model_calls"] == 5, run["sigmas"]  # the host runs int(0.5 * 8) + 1 steps at strength 0.5


def noise(probe):
    return result(probe, "noise_options")


def test_same_seed_repeats_and_another_seed_differs(probe):
    n = noise(probe)
    assert n["repeat"] == [0.0, 0.0]
    assert n["other_seed"][0] > 1e-2 and n["other_seed"][1] > 0


def test_default_noise_is_batch_invariant(probe):
    latent, image = noise(probe)["batch_of_2_first"]
    assert latent < 1e-4 and image <= 1.0, "seed 1234 alone and first in a batch of 2 differ"


def test_random_number_source_changes_the_start_noise_and_is_recorded(probe):
    n = noise(probe)
    assert n["rng_nv_vs_cpu"][0] > 1e-2, "NV and CPU sources gave the same latent"
    assert n["rng_nv_repeat"] == [0.0, 0.0]
    assert "RNG: NV" in n["infotext_rng"]["NV"] and "RNG: CPU" in n["infotext_rng"]["CPU"]
    if not __import__("torch").cuda.is_available():  # "GPU" is the CPU generator on a machine without one
        assert n["rng_gpu_vs_cpu"] == [0.0, 0.0]


def test_eta_noise_seed_delta_changes_per_image_rng_noise_only(probe):
    n = noise(probe)
    assert n["ensd_brownian"] == [0.0, 0.0], "ENSD changed the Brownian (batch-deterministic) noise"
    assert n["per_image_rng_ensd"][0] > 1e-3, "ENSD did not change the per-image generator noise"
    assert "ENSD: 31337" in n["infotext_per_image_rng_ensd"]


def test_batch_determinism_option_switches_to_per_image_generators(probe):
    n = noise(probe)
    assert n["per_image_rng_vs_brownian"][0] > 1e-3, "the option did not change the noise"
    assert n["per_image_rng_repeat"] == [0.0, 0.0]
    assert n["per_image_rng_batch_of_2_first"][0] < 1e-4, "per-image generators depend on the batch"
    assert n["per_image_rng_nv_vs_cpu"][0] > 1e-2, "the NV source did not reach the per-step noise"


def test_eta_zero_is_noise_free(probe):
    n = noise(probe)
    assert n["eta0_noise_free"][0] < 1e-5, "with eta 0 the step noise (ENSD, generator) still mattered"
    assert n["eta0_vs_default"][0] > 1e-3


def test_setting_the_solver_refuses_fails_the_request_with_its_reason_and_the_webui_keeps_serving(probe):
    bad = result(probe, "bad_input_is_an_error_not_a_crash")
    assert bad["bad_status"] == 500, bad
    assert "eta must be a finite number >= 0" in bad["bad_body"], bad["bad_body"]
    assert bad["after"]["finite"] and f"Sampler: {LABELS[0]}," in bad["after"]["infotexts"][0]


def test_auto_entry_hands_the_hosts_cfg_scale_to_the_policy_in_each_pass(probe):
    auto = result(probe, "auto_reads_cond_scale")
    weak, strong = assert_policy_got(auto["1.5"], 1.5), assert_policy_got(auto["7.0"], 7.0)
    assert weak != strong, "cfg 1.5 and 7 sampled alike: the cfg did not reach the policy"
    # the hires pass at cfg 7: reForge's CFG applies its hires cfg (2) there, A1111 keeps cfg_scale
    hires_cfg = 2.0 if result(probe, "scratch_prepared")["flavor"] == "reforge" else 7.0
    choices = assert_policy_got({"calls": auto["hires"]["calls"][1:]}, hires_cfg)
    assert_policy_got({"calls": auto["hires"]["calls"][:1]}, 7.0)
    assert choices and all(run["finite"] for run in auto.values())
    assert "Hires" in auto["hires"]["infotexts"][0] and "Sampler: ER-SDE-Solver Auto," in auto["hires"]["infotexts"][0]
