"""Our outputs are the same on every ComfyUI version whose model math did not change.

tests/comfyui/host_outputs.json holds, for each case below, the latent our sampler gave on ComfyUI
0.3.64 through comfy.sample.sample_custom (the tiny eps / v / flow models of conftest.py, 6 karras
steps, cfg 3, batch 2, seed 11). Every other ComfyUI snapshot must give the same latent within float
rounding, for every case listed in SAME_ON_EVERY_VERSION: the pack has one code path, and these
cases read nothing that changed between versions. Not listed, and why:

- noise_type comfyui: it draws what each version's er_sde draws, and ComfyUI 0.33 seeds that
  generator with seed + 1 on the CPU (tests/comfyui/test_parity.py checks it per version);
- a model noise scale: 0.3.64 has none.

Rewrite the file (on ComfyUI 0.3.64 only) with ERSDE_WRITE_HOST_OUTPUTS=1.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

OUTPUTS = Path(__file__).with_name("host_outputs.json")
WRITTEN_ON = (0, 3, 64)
STEPS, CFG, SEED = 6, 3.0, 11
# (model kind, sampler name or node inputs)
NODE = dict(order=2, noise_scale="reverse_sde", custom_noise_scale="", eta=0.5, s_noise=1.0, noise_type="brownian",
            scheme="predictor_corrector")
SAME_ON_EVERY_VERSION = [
    *[(kind, name) for kind in ("eps", "v", "flow") for name in
      ("er_sde_solver_1", "er_sde_solver_2", "er_sde_solver_3", "er_sde_solver_auto", "er_sde_solver_3_cfg_pp")],
    *[(kind, "node: " + json.dumps(NODE, sort_keys=True)) for kind in ("eps", "flow")],
]


def _sampler(host, name: str):
    import comfy.samplers
    if name.startswith("node: "):
        return host.ersde.sampling.make_sampler(**json.loads(name[len("node: "):]))
    return comfy.samplers.sampler_object(name)


def _run(host, tiny_models, conds, kind: str, name: str) -> torch.Tensor:
    import comfy.sample
    import comfy.samplers
    model = tiny_models[kind]
    latent = torch.zeros(2, 4, 8, 8)
    noise = comfy.sample.prepare_noise(latent, SEED)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", STEPS)
    return comfy.sample.sample_custom(model, noise, CFG, _sampler(host, name), sigmas, conds[0], conds[1], latent,
                                      disable_pbar=True, seed=SEED)


def _key(kind: str, name: str) -> str:
    return f"{kind} | {name}"


def test_write_host_outputs_on_0_3_64(host, tiny_models, conds):
    """Only with ERSDE_WRITE_HOST_OUTPUTS=1 on ComfyUI 0.3.64: (re)writes host_outputs.json."""
    if not os.environ.get("ERSDE_WRITE_HOST_OUTPUTS"):
        assert OUTPUTS.is_file(), "tests/comfyui/host_outputs.json is missing: write it on ComfyUI 0.3.64"
        return
    assert host.version == WRITTEN_ON, f"write the outputs on ComfyUI {WRITTEN_ON}, not {host.version}"
    data = {_key(kind, name): _run(host, tiny_models, conds, kind, name).flatten().tolist()
            for kind, name in SAME_ON_EVERY_VERSION}
    OUTPUTS.write_text(json.dumps({"comfyui": ".".join(map(str, WRITTEN_ON)), "outputs": data}, indent=0) + "\n")


@pytest.mark.parametrize("kind, name", SAME_ON_EVERY_VERSION, ids=[_key(*case) for case in SAME_ON_EVERY_VERSION])
def test_output_equals_the_0_3_64_output(host, tiny_models, conds, kind, name):
    stored = json.loads(OUTPUTS.read_text())["outputs"]
    want = torch.tensor(stored[_key(kind, name)]).reshape(2, 4, 8, 8)
    got = _run(host, tiny_models, conds, kind, name)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-5,
                               msg=lambda m: f"ComfyUI {host.version}: {name} on the {kind} model differs from "
                                             f"ComfyUI 0.3.64's output: {m}")
