"""Host-free tests of the WebUI glue (scripts/ersde_webui/glue.py) and the entry script's
behaviour outside a WebUI. They run in CI without any WebUI checkout."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
GLUE_PATH = ROOT / "scripts" / "ersde_webui" / "glue.py"
SCRIPT_PATH = ROOT / "scripts" / "er_sde_samplers.py"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def glue():
    return load("ersde_test_webui_glue", GLUE_PATH)


def test_released_labels_and_aliases_never_change(glue):
    assert [(s.label, s.aliases, s.order, s.funcname) for s in glue.SAMPLERS] == [
        ("ER-SDE-Solver 1", ("er_sde_solver_1",), 1, "sample_er_sde_solver_1"),
        ("ER-SDE-Solver 2", ("er_sde_solver_2",), 2, "sample_er_sde_solver_2"),
        ("ER-SDE-Solver 3", ("er_sde_solver_3",), 3, "sample_er_sde_solver_3"),
    ]


def test_auto_entry_label_alias_and_function(glue):
    assert [(s.label, s.aliases, s.order, s.funcname, s.reads_guidance) for s in glue.AUTO_SAMPLERS] == [
        ("ER-SDE-Solver Auto", ("er_sde_solver_auto",), 3, "sample_er_sde_solver_auto", True)]
    assert not any(s.reads_guidance for s in glue.SAMPLERS + glue.CFG_PP_SAMPLERS)


def test_every_funcname_exists_in_the_solver(glue):
    from k_diffusion_ext import SAMPLER_FUNCTIONS
    assert {s.funcname for s in glue.SAMPLERS + glue.AUTO_SAMPLERS} <= set(SAMPLER_FUNCTIONS)


@pytest.mark.parametrize("p, extra_args, expected", [
    (None, {"cond_scale": 7.0}, 7.0),                                               # A1111 / Forge first pass
    (types.SimpleNamespace(is_hr_pass=False, hr_cfg=2.0), {"cond_scale": 7}, 7.0),
    (types.SimpleNamespace(is_hr_pass=True, hr_cfg=2.0), {"cond_scale": 7.0}, 2.0),  # Forge / reForge hires pass
    (types.SimpleNamespace(is_hr_pass=True), {"cond_scale": 7.0}, 7.0),              # A1111 hires: no hr_cfg
    (None, {"cond_scale": torch.tensor(4.5)}, 4.5),
    (None, {}, None), (None, None, None), (None, {"cond_scale": float("nan")}, None),
    (None, {"cond_scale": "7"}, None), (None, {"cond_scale": True}, None),
])
def test_host_guidance_scale_is_what_the_hosts_cfg_denoiser_applies(glue, p, extra_args, expected):
    model = types.SimpleNamespace(p=p) if p is not None else object()
    assert glue.host_guidance_scale(model, extra_args) == expected


def test_auto_entry_function_hands_cond_scale_to_the_solver(glue):
    from k_diffusion_ext import SAMPLER_FUNCTIONS, sample_er_sde
    from k_diffusion_ext.analytic import gaussian_denoiser, karras_sigmas
    model = gaussian_denoiser(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 14
    fn = glue.make_sampler_function(SAMPLER_FUNCTIONS["sample_er_sde_solver_auto"], "f", reads_guidance=True)
    noise = lambda s, t: torch.ones_like(x)  # noqa: E731
    out = {g: fn(model, x, karras_sigmas(10), {"cond_scale": g}, None, True, noise_sampler=noise) for g in (1.0, 7.0)}
    for g, got in out.items():
        want = sample_er_sde(model, x, karras_sigmas(10), {"cond_scale": g}, disable=True, scheme="auto",
                             guidance_scale=g, noise_sampler=noise)
        assert torch.equal(got, want)
    assert not torch.equal(out[1.0], out[7.0])


def test_options_are_karras_brownian_ensd_and_fresh_per_entry(glue):
    first, second = glue.sampler_options(), glue.sampler_options()
    assert first == {"scheduler": "karras", "brownian_noise": True, "uses_ensd": True}
    first["scheduler"] = "changed"
    assert second["scheduler"] == "karras" and glue.SAMPLER_OPTIONS["scheduler"] == "karras"


def test_missing_specs_deduplicates_by_label(glue):
    assert [s.label for s in glue.missing_specs(["Euler"])] == list(glue.LABELS + glue.AUTO_LABELS)
    assert [s.label for s in glue.missing_specs(["ER-SDE-Solver 2", "Euler"])] == [
        "ER-SDE-Solver 1", "ER-SDE-Solver 3", "ER-SDE-Solver Auto"]
    assert glue.missing_specs(glue.LABELS + glue.AUTO_LABELS) == []


@pytest.mark.parametrize("prediction_type, classes, expected", [
    ("const", [], True),                                  # Forge backend flow predictors
    ("CONST", [], True),
    ("epsilon", [], False), ("v_prediction", [], False), ("eps", [], False), ("edm", [], False),
    (None, ["ModelSampling", "ModelSamplingDiscreteFlow", "CONST", "Module"], True),  # ComfyUI-style
    (None, ["ModelSampling", "ModelSamplingDiscrete", "EPS", "Module"], False),
    (None, [], False),
])
def test_flow_detection_from_plain_values(glue, prediction_type, classes, expected):
    assert glue.is_flow_prediction(prediction_type, classes) is expected


def test_flow_schedule_nudges_first_sigma_and_sets_alpha(glue):
    sigmas = torch.tensor([1.0, 0.5, 0.1, 0.0])
    nudged, alphas = glue.flow_schedule(sigmas)
    assert sigmas[0] == 1.0, "the host's schedule was modified in place"
    assert nudged[0] == pytest.approx(glue.FLOW_SIGMA_CEILING) and nudged[0] < 1
    assert torch.equal(nudged[1:], sigmas[1:])
    assert torch.allclose(alphas, 1 - nudged)


def test_flow_schedule_keeps_a_first_sigma_below_one(glue):
    sigmas = torch.tensor([0.8, 0.3, 0.0])
    nudged, _ = glue.flow_schedule(sigmas)
    assert torch.equal(nudged, sigmas)


def _forge_like_model(prediction_type):
    predictor = types.SimpleNamespace(prediction_type=prediction_type)
    return types.SimpleNamespace(inner_model=types.SimpleNamespace(predictor=predictor))


def test_describe_model_reads_forge_and_reforge_layouts(glue):
    assert glue.describe_model(_forge_like_model("const"))[0] == "const"

    class CONST: pass
    class ModelSamplingFlow(CONST): pass
    unet = types.SimpleNamespace(model=types.SimpleNamespace(model_sampling=ModelSamplingFlow()))
    reforge = types.SimpleNamespace(inner_model=types.SimpleNamespace(
        inner_model=types.SimpleNamespace(forge_objects=types.SimpleNamespace(unet=unet))))
    prediction_type, names = glue.describe_model(reforge)
    assert glue.is_flow_prediction(prediction_type, names)
    assert glue.describe_model(lambda x, s: x) == (None, [])


def test_describe_model_detects_a1111_sd3_as_flow_and_sd1_as_not(glue):
    class ModelSamplingDiscreteFlow: pass  # A1111 modules/models/sd3/sd3_impls.py, no CONST base
    sd3 = types.SimpleNamespace(model=types.SimpleNamespace(model_sampling=ModelSamplingDiscreteFlow()))
    cfg_denoiser = types.SimpleNamespace(inner_model=types.SimpleNamespace(inner_model=sd3))
    assert glue.is_flow_prediction(*glue.describe_model(cfg_denoiser))
    sd1 = types.SimpleNamespace(model=types.SimpleNamespace(diffusion_model=object()))  # LatentDiffusion.model
    assert not glue.is_flow_prediction(*glue.describe_model(
        types.SimpleNamespace(inner_model=types.SimpleNamespace(inner_model=sd1))))


class Denoiser:
    """x0 = x / (1 + sigma^2) (a Gaussian prior's denoiser), with the WebUI-like attribute chain."""

    def __init__(self, prediction_type="epsilon", rng=None):
        self.inner_model = types.SimpleNamespace(predictor=types.SimpleNamespace(prediction_type=prediction_type))
        self.p = types.SimpleNamespace(rng=rng) if rng is not None else None
        self.sigmas = []

    def __call__(self, x, sigma, **extra):
        self.sigmas.append(float(sigma[0]))
        return x / (1 + sigma.view(-1, 1, 1, 1) ** 2)


def test_sampler_function_signature_is_what_the_host_inspects(glue):
    from k_diffusion_ext import SAMPLER_FUNCTIONS
    fn = glue.make_sampler_function(SAMPLER_FUNCTIONS["sample_er_sde_solver_3"], "sample_er_sde_solver_3")
    params = glue.accepted_parameters(fn)
    assert {"sigmas", "eta", "s_noise", "noise_sampler", "extra_args", "callback", "disable"} <= params
    assert not params & {"n", "sigma_min", "sigma_max", "sigma_sched"}  # the host would pass those
    assert fn.__name__ == "sample_er_sde_solver_3"


def test_sampler_function_calls_model_at_unit_sigma_never_on_flow(glue):
    from k_diffusion_ext import SAMPLER_FUNCTIONS
    fn = glue.make_sampler_function(SAMPLER_FUNCTIONS["sample_er_sde_solver_2"], "f")
    model = Denoiser("const")
    x = torch.randn(1, 4, 2, 2, generator=torch.Generator().manual_seed(0))
    out = fn(model, x, torch.linspace(1, 0, 5), noise_sampler=lambda s, t: torch.zeros_like(x))
    assert model.sigmas[0] == pytest.approx(glue.FLOW_SIGMA_CEILING)
    assert torch.isfinite(out).all()


def test_sampler_function_uses_host_rng_when_no_noise_sampler(glue):
    from k_diffusion_ext import SAMPLER_FUNCTIONS

    class Rng:
        calls = 0

        def next(self):
            Rng.calls += 1
            return torch.zeros(1, 4, 2, 2)

    fn = glue.make_sampler_function(SAMPLER_FUNCTIONS["sample_er_sde_solver_1"], "f")
    x = torch.ones(1, 4, 2, 2) * 10
    fn(Denoiser(rng=Rng()), x, torch.tensor([10.0, 5.0, 1.0, 0.0]))
    assert Rng.calls == 2  # one draw per noisy step (the last step returns the prediction)


def test_sampler_function_eta_zero_is_deterministic(glue):
    from k_diffusion_ext import SAMPLER_FUNCTIONS
    fn = glue.make_sampler_function(SAMPLER_FUNCTIONS["sample_er_sde_solver_3"], "f")
    x = torch.ones(1, 4, 2, 2) * 10
    sigmas = torch.tensor([10.0, 5.0, 2.0, 1.0, 0.0])
    noisy = lambda s, t: torch.randn_like(x)  # noqa: E731
    a = fn(Denoiser(), x, sigmas, eta=0.0, noise_sampler=noisy)
    b = fn(Denoiser(), x, sigmas, eta=0.0, noise_sampler=noisy)
    assert torch.equal(a, b)


def test_entry_script_outside_a_webui_registers_nothing_and_raises_nothing():
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('script', {str(SCRIPT_PATH)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "assert m.registered == []\n"
        "assert 'er_sde_nodes_webui_glue' in sys.modules and 'er_sde_nodes_webui_k_diffusion_ext' in sys.modules\n"
        "assert not any(n == 'modules' or n.startswith(('modules.', 'comfy')) for n in sys.modules)\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr


def test_webui_files_import_no_comfyui_module():
    for path in [SCRIPT_PATH, GLUE_PATH]:
        text = path.read_text()
        assert "import comfy" not in text and "from comfy" not in text, path


def test_comfyui_entry_imports_no_webui_module():
    text = (ROOT / "__init__.py").read_text()
    assert "scripts" not in text.split('"""', 2)[-1] and "from modules" not in text


# ---- CFG++ entries (0.2.0)

def test_cfg_pp_labels_and_aliases(glue):
    assert [(s.label, s.aliases, s.order, s.funcname, s.cfg_pp) for s in glue.CFG_PP_SAMPLERS] == [
        ("ER-SDE-Solver 1 CFG++", ("er_sde_solver_1_cfg_pp",), 1, "sample_er_sde_solver_1", True),
        ("ER-SDE-Solver 2 CFG++", ("er_sde_solver_2_cfg_pp",), 2, "sample_er_sde_solver_2", True),
        ("ER-SDE-Solver 3 CFG++", ("er_sde_solver_3_cfg_pp",), 3, "sample_er_sde_solver_3", True),
    ]
    assert glue.missing_specs([]) == list(glue.SAMPLERS + glue.AUTO_SAMPLERS), \
        "CFG++ listed on a host that cannot hand over uncond"
    assert [s.label for s in glue.missing_specs(["ER-SDE-Solver 1"], cfg_pp=True)] == [
        "ER-SDE-Solver 2", "ER-SDE-Solver 3", "ER-SDE-Solver Auto", *glue.CFG_PP_LABELS]


class _GuidedPair:
    """x0_u = 0.5 x, x0_c = 0.5 x + 1; guided = x0_u + cfg (x0_c - x0_u)."""

    @staticmethod
    def predictions(x, cfg):
        x0_u = 0.5 * x
        return x0_u + cfg * (x0_u + 1 - x0_u), x0_u


class _ForgeLikeDenoiser(_GuidedPair):
    """Forge / reForge layout: the Forge unet's model_options, read on every call, whose
    post-CFG functions see the unconditional prediction (as backend/sampling/sampling_function.py)."""

    def __init__(self):
        unet = types.SimpleNamespace(model_options={"transformer_options": {}})
        self.inner_model = types.SimpleNamespace(inner_model=types.SimpleNamespace(
            forge_objects=types.SimpleNamespace(unet=unet)))
        self.unet = unet

    def __call__(self, x, sigma, cond_scale=1.5, **_):
        options = self.unet.model_options
        skip = cond_scale == 1.0 and not options.get("disable_cfg1_optimization", False)
        guided, x0_u = self.predictions(x, cond_scale)
        if skip:
            x0_u = torch.zeros_like(x)  # what Forge's calc_cond_uncond_batch leaves for a skipped pass
        for fn in options.get("sampler_post_cfg_function", []):
            guided = fn({"denoised": guided, "uncond_denoised": x0_u})
        return guided


class _A1111LikeDenoiser(_GuidedPair):
    """A1111 1.10 layout: need_last_noise_uncond / last_noise_uncond (uncond rows of x_out)."""

    def __init__(self):
        self.inner_model = types.SimpleNamespace()
        self.need_last_noise_uncond = False
        self.last_noise_uncond = None

    def __call__(self, x, sigma, cond_scale=1.5, **_):
        guided, x0_u = self.predictions(x, cond_scale)
        if self.need_last_noise_uncond:
            self.last_noise_uncond = x0_u.clone()
        return guided


@pytest.mark.parametrize("host_model", [_ForgeLikeDenoiser, _A1111LikeDenoiser], ids=["forge", "a1111"])
@pytest.mark.parametrize("cfg", [1.0, 1.5])
def test_cfg_pp_entry_gets_the_hosts_unconditional_prediction(glue, host_model, cfg):
    from k_diffusion_ext import SAMPLER_FUNCTIONS, sample_er_sde
    model = host_model()
    before = dict(model.unet.model_options) if hasattr(model, "unet") else model.need_last_noise_uncond
    sigmas = torch.tensor([10.0, 3.0, 1.0, 0.3, 0.0], dtype=torch.float64)
    x = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 10
    fn = glue.make_sampler_function(SAMPLER_FUNCTIONS["sample_er_sde_solver_3"], "x", cfg_pp=True)
    out = fn(model, x, sigmas, {"cond_scale": cfg}, disable=True, s_noise=0.0)

    def exact(x, sigma, **_):
        return _GuidedPair.predictions(x, cfg)[0]

    last = {}

    def exact_with_uncond(x, sigma, **_):
        guided, last["u"] = _GuidedPair.predictions(x, cfg)
        return guided

    expected = sample_er_sde(exact_with_uncond, x, sigmas, {}, disable=True, s_noise=0.0, order=3,
                             uncond=lambda: last["u"])
    plain = sample_er_sde(exact, x, sigmas, {}, disable=True, s_noise=0.0, order=3)
    assert torch.allclose(out, expected, rtol=1e-12, atol=1e-12), "the entry did not use the host's uncond"
    assert not torch.allclose(out, plain), "CFG++ equals plain CFG here: the test cannot tell"
    after = dict(model.unet.model_options) if hasattr(model, "unet") else model.need_last_noise_uncond
    assert after == before, "the host's denoiser was left changed"


def test_cfg_pp_entry_on_a_host_without_uncond_says_so(glue):
    from k_diffusion_ext import SAMPLER_FUNCTIONS
    fn = glue.make_sampler_function(SAMPLER_FUNCTIONS["sample_er_sde_solver_3"], "x", cfg_pp=True)

    class Bare:
        inner_model = None

        def __call__(self, x, sigma, **_):
            return x

    with pytest.raises(ValueError, match="does not hand it to samplers"):
        fn(Bare(), torch.zeros(1, 2), torch.tensor([1.0, 0.0]), {}, disable=True)
