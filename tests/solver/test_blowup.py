"""No setting the nodes offer blows samples up under strong guidance (issue 21).

An exact guided mixture: 16-D, 8 components (std 0.3) in 4 classes of 2, each item guided to
its class by classifier-free guidance on the exact denoisers
(k_diffusion_ext.analytic.guided_mixture_denoiser). Every order, scheme and noise scale the
nodes list runs at cfg 1, 3, 6, 8 and 10 and 10, 20 and 50 steps (the EDM schedule, sigma 80 to
0.002), 256 samples, one noise seed.

What keeps them in range is the guard (k_diffusion_ext.coefficients.GUARD_MIN_GUIDANCE): with a
guidance scale above 3 handed over (the nodes hand over the host's cfg) on a noisy plan, a step
of order >= 2 falls back to order 1 for the items it would take out of the range of its start
and its predictions. Without it, order 2 and 3 (every scheme but auto) on the reverse SDE and
x^2.5, and predictor_corrector order 3 on x^1.5, put 2-45 % of the samples beyond the bound at
10-20 steps from cfg 4 (test_without_the_guard_strong_guidance_blows_samples_up).

The bound: a sample is blown up when a coordinate leaves 2x the data's range. The data lie
within DATA_MAX = max |mean coordinate| + 4 std (3.94; per coordinate beyond it with
probability 6e-5), and the guided distribution itself stays there: the converged guided ODE and
reverse SDE (order 2, 200 steps) reach at most 3.9 at cfg 10. So a coordinate beyond 2 DATA_MAX
is the sampler's artefact (in an image: a burnt pixel), not guidance.

The tolerance: at most 1.5 % of the samples. The first-order step cannot be guarded by falling
back to a lower order, and it is not clean at 10 steps with cfg 6-10 where noise is injected:
ER-SDE-1 on the reverse SDE (the step of k-diffusion's euler_ancestral) puts 0.1-0.6 % of the
samples beyond the bound there (2048 samples, two seeds; euler_ancestral 0.2-0.25 %). The issue's
failures are 6-11 %."""
import pytest
import torch

from k_diffusion_ext import NOISE_SCALES, SCHEMES, sample_er_sde
from k_diffusion_ext.analytic import guided_mixture_denoiser, karras_sigmas

DIM, COMPONENTS, CLASSES, STD, SAMPLES = 16, 8, 4, 0.3, 256
GUIDANCE = (1.0, 3.0, 4.0, 6.0, 8.0, 10.0)
STEPS = (10, 20, 50)
TOLERANCE = 0.015

means = torch.randn(COMPONENTS, DIM, generator=torch.Generator().manual_seed(1234), dtype=torch.float64)
classes = torch.arange(COMPONENTS) % CLASSES
labels = torch.arange(SAMPLES) % CLASSES
DATA_MAX = means.abs().max().item() + 4 * STD
start = torch.randn(SAMPLES, DIM, generator=torch.Generator().manual_seed(7), dtype=torch.float64)

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The problem is tiny (256 x 16): torch's intra-op threads only contend (on a shared 2-core
    machine 5x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blown_up(noise_scale: str, scheme: str, order: int, guidance_scales=GUIDANCE, steps_list=STEPS,
             hand_over: bool = True) -> list[str]:
    """The settings (cfg, steps) where more than TOLERANCE of the samples leave 2 DATA_MAX; the sampler is
    told the guidance scale as the nodes tell it (hand_over=False: not told, so unguarded)."""
    failures = []
    for guidance in guidance_scales:
        model = guided_mixture_denoiser(means, STD, classes, labels, guidance)
        for steps in steps_list:
            sigmas = karras_sigmas(steps, 0.002, 80.0)
            out = sample_er_sde(model, start * sigmas[0], sigmas, order=order, scheme=scheme, noise_scale=noise_scale,
                                guidance_scale=guidance if hand_over else None, extra_args={"seed": 1}, disable=True)
            peak = out.abs().amax(dim=1)
            share = (~(peak <= 2 * DATA_MAX)).double().mean().item()  # NaN counts as blown up
            if share > TOLERANCE:
                failures.append(f"cfg {guidance:g}, {steps} steps: {share:.1%} beyond {2 * DATA_MAX:.2f} "
                                f"(max {peak.max().item():.3g})")
    return failures


def test_the_guided_mixture_is_exact_cfg():
    """The model is CFG on the exact denoisers: at scale 1 the class's mixture, at 0 the whole one."""
    from k_diffusion_ext.analytic import mixture_denoiser
    x, sigma = start[:8] * 2, torch.full((8,), 0.7, dtype=torch.float64)
    whole = mixture_denoiser(means, STD)(x, sigma)
    own = torch.stack([mixture_denoiser(means[classes == labels[b]], STD)(x[b:b + 1], sigma[b:b + 1])[0]
                       for b in range(8)])
    torch.testing.assert_close(guided_mixture_denoiser(means, STD, classes, labels[:8], 1.0)(x, sigma), own)
    torch.testing.assert_close(guided_mixture_denoiser(means, STD, classes, labels[:8], 0.0)(x, sigma), whole)
    torch.testing.assert_close(guided_mixture_denoiser(means, STD, classes, labels[:8], 6.0)(x, sigma),
                               whole + 6.0 * (own - whole))


def test_the_converged_guided_sampler_stays_in_the_data_range():
    """The bound is about the sampler, not guidance: at cfg 10 the converged guided SDE and ODE stay
    within the data's range (so nothing the test flags is the guided distribution's own tail)."""
    model = guided_mixture_denoiser(means, STD, classes, labels, 10.0)
    sigmas = karras_sigmas(200, 0.002, 80.0)
    for noise_scale in ("ode", "reverse_sde"):
        out = sample_er_sde(model, start * sigmas[0], sigmas, order=2, noise_scale=noise_scale,
                            extra_args={"seed": 1}, disable=True)
        assert out.abs().max() <= 1.05 * DATA_MAX, f"{noise_scale}: the converged guided samples leave the data's range"


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("noise_scale", list(NOISE_SCALES))
def test_no_setting_blows_samples_up_under_guidance(noise_scale, scheme, order):
    failures = blown_up(noise_scale, scheme, order)
    assert not failures, (f"{noise_scale}, {scheme}, order {order}: more than {TOLERANCE:.1%} of the samples beyond "
                          f"2x the data's range at " + "; ".join(failures))


def test_without_the_guard_strong_guidance_blows_samples_up():
    """The test can fail: told no guidance scale (so unguarded), order 3 on the reverse SDE at cfg 8 and
    10 steps puts several % of the samples beyond the bound (7.0 % measured)."""
    assert blown_up("reverse_sde", "corrected", 3, (8.0,), (10,), hand_over=False), \
        "the unguarded order-3 reverse SDE no longer blows up here: the problem no longer shows what it tests"


@pytest.mark.parametrize("noise_scale", ["reverse_sde", "paper_default"])
def test_the_guard_is_off_without_strong_guidance_and_on_quiet_plans(noise_scale):
    """Where the guard is off the output is the unguarded one bit for bit: at cfg 3 and below, with no
    scale handed over, and on quiet plans (the paper's noise scale) at any scale."""
    model = guided_mixture_denoiser(means, STD, classes, labels[:32], 8.0)
    sigmas = karras_sigmas(10, 0.002, 80.0)

    def run(guidance):
        return sample_er_sde(model, start[:32] * sigmas[0], sigmas, order=3, scheme="predictor_corrector",
                             noise_scale=noise_scale, guidance_scale=guidance, extra_args={"seed": 1}, disable=True)
    unguarded = run(None)
    assert torch.equal(run(3.0), unguarded), "the guard changed a run at guidance 3"
    if noise_scale == "paper_default":
        assert torch.equal(run(10.0), unguarded), "the guard changed a run on the paper's (quiet) noise scale"
    else:
        assert not torch.equal(run(10.0), unguarded), "the guard did not act on the reverse SDE at guidance 10"
