"""Loading the pack into ComfyUI: dropdown names, node registration, idempotence."""
from __future__ import annotations

import asyncio

import pytest

NAMES = ["er_sde_solver_1", "er_sde_solver_2", "er_sde_solver_3",
         "er_sde_solver_1_cfg_pp", "er_sde_solver_2_cfg_pp", "er_sde_solver_3_cfg_pp",
         "er_sde_solver_auto"]  # added in 0.3.0


def test_sampler_names_in_ksampler_ksampleradvanced_and_ksamplerselect_dropdowns(host):
    import comfy.samplers
    nodes = host.nodes
    assert comfy.samplers.KSampler.SAMPLERS is comfy.samplers.SAMPLER_NAMES, "SAMPLER_NAMES was rebound"
    for node_id in ("KSampler", "KSamplerAdvanced", "KSamplerSelect"):
        options = host.combo_options(nodes.NODE_CLASS_MAPPINGS[node_id], "sampler_name")
        missing = [n for n in NAMES if n not in options]
        assert not missing, f"{node_id}'s sampler_name dropdown lacks {missing}"
    assert all(n in comfy.samplers.KSAMPLER_NAMES for n in NAMES)


def test_builtin_sampler_names_and_er_sde_untouched(host):
    import comfy.samplers
    from comfy.k_diffusion import sampling
    names = comfy.samplers.SAMPLER_NAMES
    assert names[:len(host.builtin_sampler_names)] == host.builtin_sampler_names, "a built-in name moved"
    assert names[len(host.builtin_sampler_names):] == NAMES
    assert sampling.sample_er_sde is host.builtin_er_sde, "the built-in er_sde was replaced"
    assert sampling.sample_er_sde.__module__ == "comfy.k_diffusion.sampling"


def test_registered_names_resolve_to_our_functions_through_ksampler(host):
    import comfy.samplers
    for name in NAMES:
        sampler = comfy.samplers.sampler_object(name)
        assert sampler.sampler_function.__name__ == f"sample_{name}"
        assert sampler.sampler_function.__module__.endswith("ersde_nodes.sampling")


def test_loading_the_pack_twice_adds_nothing(host):
    import comfy.samplers
    nodes = host.nodes
    before = list(comfy.samplers.SAMPLER_NAMES), list(comfy.samplers.KSAMPLER_NAMES)
    assert asyncio.run(nodes.load_custom_node(host.pack_dir))
    host.ersde.registration.register_samplers()
    assert (list(comfy.samplers.SAMPLER_NAMES), list(comfy.samplers.KSAMPLER_NAMES)) == before


def test_register_without_host_lists_warns_instead_of_crashing(host, caplog):
    import types
    samplers, sampling = types.SimpleNamespace(), types.SimpleNamespace()
    assert host.ersde.registration.register_samplers(samplers, sampling) is False
    assert "not added" in caplog.text or "no sampler list" in caplog.text
    assert hasattr(sampling, "sample_er_sde_solver_3")


def test_nodes_registered_with_ids_display_names_and_input_order(host):
    nodes = host.nodes
    names = host.ersde.names
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS["ERSDESolverSampler"] == "ER-SDE-Solver Sampler"
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS["KSamplerERSDE"] == "KSampler (ER-SDE)"
    assert "SamplerER_SDE" in nodes.NODE_CLASS_MAPPINGS  # the built-in one, still there
    sampler_types = nodes.NODE_CLASS_MAPPINGS["ERSDESolverSampler"].INPUT_TYPES()
    ksampler_types = nodes.NODE_CLASS_MAPPINGS["KSamplerERSDE"].INPUT_TYPES()
    # 0.1.0's inputs stay required and in their order; inputs added later are optional, at the end
    assert list(sampler_types["required"]) == ["order", "noise_scale", "custom_noise_scale", "eta", "s_noise",
                                               "noise_type", "scheme"]
    assert list(ksampler_types["required"]) == ["model", "seed", "steps", "cfg", "scheduler", "positive",
                                                "negative", "latent_image", "denoise", "order", "noise_scale",
                                                "custom_noise_scale", "eta", "s_noise", "noise_type", "scheme"]
    for types_ in (sampler_types, ksampler_types):
        assert list(types_["optional"]) == ["cfg_pp"] == list(names.OPTIONAL_INPUTS)
        assert types_["optional"]["cfg_pp"][1]["default"] is False
    sampler_inputs = sampler_types["required"] | sampler_types["optional"]
    ksampler_inputs = ksampler_types["required"] | ksampler_types["optional"]
    assert list(sampler_inputs) == list(names.SAMPLER_INPUTS)
    assert list(ksampler_inputs) == list(names.KSAMPLER_INPUTS)
    for inputs in (sampler_inputs, ksampler_inputs):
        for name, (_, options) in inputs.items():
            assert options.get("tooltip"), f"input {name} has no tooltip"
    noise_scales = sampler_inputs["noise_scale"][0] if isinstance(sampler_inputs["noise_scale"][0], list) \
        else sampler_inputs["noise_scale"][1]["options"]
    assert noise_scales == ["paper_default", "ode", "reverse_sde", "exp_neg_inv", "power_1.5", "power_2.5",
                            "log_mix", "custom"]


def test_pack_exports_v3_entrypoint_only_not_classic_mappings(host):
    assert hasattr(host.pack, "comfy_entrypoint")
    assert not hasattr(host.pack, "NODE_CLASS_MAPPINGS"), "both V1 mappings and V3 entrypoint exported"
