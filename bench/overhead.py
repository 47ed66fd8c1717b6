"""Overhead benchmark: per-step cost of the samplers themselves, with a nearly free model.

    python -m bench.overhead [--quick] [--device cpu|cuda] [--threads 1,all] [--out DIR]

The model is one multiply (x * 0.5), so what is timed is the sampler: its update, its
noise draw and its Python. Latents: SD1.5 (B x 4 x 64 x 64) and SDXL (B x 4 x 128 x 128) at
batch 1 and 4, and a video latent (1 x 16 x 21 x 90 x 160); float32, float16 and bfloat16;
on the CPU with 1 thread and with all threads, and on CUDA where a GPU is. Compared in the
same run, interleaved (every repeat runs every sampler once, in a rotating order), best of
the repeats (the least disturbed, as timeit reports), reported as ratios:

- ER-SDE-Solver 1/2/3 (k_diffusion_ext, default noise: the counter-based stream on the
  latent's device) and ER-SDE-3 with Brownian noise (the dyadic-bridge path on the same stream),
- ComfyUI's er_sde, euler_ancestral, dpmpp_2m (ODE) and dpmpp_2m_sde (its default noise, a
  torchsde Brownian tree) from COMFYUI_DIR; without it, PyPI k-diffusion's euler_ancestral,
  dpmpp_2m and dpmpp_2m_sde (ComfyUI's copies of these three are the same code),
- and ER-SDE-3 and ComfyUI's er_sde again with the noise draw left out (a noise sampler that
  returns a pre-drawn latent), which isolates the update's own cost,
- diffusers schedulers where diffusers is installed, each in a pipeline's loop (set_timesteps, then
  step() a model call), SD1.5's betas with Karras sigmas, a seeded generator passed to step():
  ERSDESolverScheduler (order 3, portable noise), DPMSolverMultistepScheduler (sde-dpmsolver++,
  order 2) and SASolverScheduler (its default stochastic predictor-corrector, orders 2 / 2).
  `--diffusers` times only these and ER-SDE-3 (sample_er_sde) and writes overhead_diffusers.*.

Also: the Gaussian draw alone against one torch.randn of the same latent, and aten operator
calls a step at batch 1 and 8 (a bound on GPU kernel launches where no GPU is), and at batch 1
for every scheme and order (corrected, reference, predictor_corrector) and for scheme "auto" at
cfg 1, 4.5, 7 and 10 and 10, 20 and 40 steps (every pick it makes), each with the paper's noise
and on the ODE, against ComfyUI's er_sde. `--ops-only` counts only these (no timing, no memory)
and writes overhead_ops.*.

Memory: every tensor an operator creates during a call is tracked (TorchDispatchMode,
weak references) and the live bytes summed after every operator: "held" is what is alive
while the model runs (what adds to the model's own peak), "peak" the most at any moment,
both in latent-sized units, the caller's input not counted. Operator calls: torch.profiler,
top-level aten operators a step, the model's multiply not counted; on CUDA also kernel
launches a step.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import weakref
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from k_diffusion_ext import (brownian_noise_sampler, per_item_noise_sampler, plan_steps, resolve_noise_scale,
                             sample_er_sde, schedule_range, validate_alphas, validate_sigmas)

from .common import header, markdown_table, out_dir
from .samplers import comfy_module, edm_sigmas

LATENTS = {"SD1.5": (4, 64, 64), "SDXL": (4, 128, 128), "video": (16, 21, 90, 160)}
BATCHES = {"SD1.5": (1, 4), "SDXL": (1, 4), "video": (1,)}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

ER3, ER3_BROWNIAN, ER3_FREE = "ER-SDE-3", "ER-SDE-3 (Brownian)", "ER-SDE-3 (no noise draw)"
ER3_SCHEDULER, DIFFUSERS_DPM_SDE, DIFFUSERS_SA = (
    "ERSDESolverScheduler (order 3)", "DPMSolverMultistep sde-dpmsolver++ (diffusers)", "SASolver (diffusers)")
DIFFUSERS_BETAS = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, use_karras_sigmas=True)
COMFY_ER, COMFY_ER_FREE = "er_sde (ComfyUI)", "er_sde (ComfyUI, no noise draw)"
EULER_A, DPM2M, DPM2M_SDE = "euler_ancestral", "dpmpp_2m (ODE)", "dpmpp_2m_sde (torchsde tree)"
SLOW = {DPM2M_SDE}  # its Brownian tree costs ~50-100x the others: 3 repeats, after the rest


# the plan rows of the operator count: every scheme at every order, and "auto" at these guidance
# scales and step counts (on the EDM schedule they cover every pick it makes with these noise scales)
PLAN_NOISE_SCALES = ("paper_default", "ode")
PLAN_SCHEMES = ("corrected", "reference", "predictor_corrector")
AUTO_GUIDANCE = (1.0, 4.5, 7.0, 10.0)
GUARDED_CFG = 10.0
AUTO_STEPS = (10, 20, 40)


def free_model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
    return x * 0.5


def scheduler_run(scheduler) -> Callable:
    """run(x, sigmas): a diffusers pipeline's loop over len(sigmas) - 1 steps with the scheduler, the free
    model's output read as epsilon; the latent is brought to unit scale first (VP latents start there)."""
    def run(x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
        scheduler.set_timesteps(len(sigmas) - 1, device=x.device)
        generator = torch.Generator(device=x.device).manual_seed(0)
        x = x * (1.0 / float(sigmas[0]))
        for t in scheduler.timesteps:
            x = scheduler.step(free_model(x, t), t, x, generator=generator, return_dict=False)[0]
        return x
    return run


def diffusers_samplers(notes: list[str]) -> dict[str, tuple[Callable, str]]:
    """The diffusers schedulers (see the module docstring); none without diffusers."""
    try:
        from diffusers import DPMSolverMultistepScheduler, SASolverScheduler
        from ersde_diffusers import ERSDESolverScheduler
    except ImportError as exc:
        notes.append(f"diffusers not importable ({exc}): no diffusers scheduler rows (pip install -e '.[diffusers]')")
        return {}
    return {
        ER3_SCHEDULER: (scheduler_run(ERSDESolverScheduler(**DIFFUSERS_BETAS, solver_order=3)),
                        "counter-based stream on the device, seed from the generator"),
        DIFFUSERS_DPM_SDE: (scheduler_run(DPMSolverMultistepScheduler(**DIFFUSERS_BETAS, solver_order=2,
                                                                      algorithm_type="sde-dpmsolver++")),
                            "randn_tensor from the generator, float32"),
        DIFFUSERS_SA: (scheduler_run(SASolverScheduler(**DIFFUSERS_BETAS)), "randn_tensor from the generator"),
    }


def build_samplers(noise: torch.Tensor, notes: list[str], with_tree: bool = True,
                   only_diffusers: bool = False) -> dict[str, tuple[Callable, str]]:
    """name -> (run(x, sigmas), noise description). run returns the sampled latent.
    only_diffusers: the diffusers schedulers and ER-SDE-3 (sample_er_sde) to compare them with."""
    fixed = lambda sigma, sigma_next: noise  # noqa: E731 - the noise draw left out
    out: dict[str, tuple[Callable, str]] = {}
    for order in ((3,) if only_diffusers else (1, 2, 3)):
        out[f"ER-SDE-{order}"] = (lambda x, s, o=order: sample_er_sde(free_model, x, s, extra_args={"seed": 0},
                                                                        disable=True, order=o),
                                  "counter-based stream on the device")
    if only_diffusers:
        return {**out, **diffusers_samplers(notes)}
    out[ER3_BROWNIAN] = (lambda x, s: sample_er_sde(free_model, x, s, disable=True, noise_sampler=brownian_noise_sampler(
        x, *schedule_range(s), seed=0)), "Brownian bridges on the counter-based stream")
    out[ER3_FREE] = (lambda x, s: sample_er_sde(free_model, x, s, disable=True, noise_sampler=fixed), "pre-drawn latent")
    out.update(diffusers_samplers(notes))
    comfy, note = comfy_module()
    if comfy is None:
        notes.append(note)
        try:
            import k_diffusion.sampling as peers
        except Exception as exc:  # noqa: BLE001
            notes.append(f"k-diffusion not importable ({exc.__class__.__name__}: {exc}): its samplers are skipped")
            return out
        model, source = free_model, "k-diffusion"
    else:
        from .samplers import _ComfyModel
        peers, source = comfy.sampling, "ComfyUI"
        # late lookup of free_model: memory_of wraps it
        model = _ComfyModel(lambda *a, **k: free_model(*a, **k), comfy.model_sampling)
        out[COMFY_ER] = (lambda x, s: peers.sample_er_sde(model, x, s, extra_args={"seed": 0}, disable=True),
                         "torch.randn, one generator on the device")
        out[COMFY_ER_FREE] = (lambda x, s: peers.sample_er_sde(model, x, s, disable=True, noise_sampler=fixed),
                              "pre-drawn latent")
    out[EULER_A] = (lambda x, s: peers.sample_euler_ancestral(model, x, s, disable=True), f"{source}: torch.randn_like")
    out[DPM2M] = (lambda x, s: peers.sample_dpmpp_2m(model, x, s, disable=True), f"{source}: none")
    if with_tree:
        out[DPM2M_SDE] = (lambda x, s: peers.sample_dpmpp_2m_sde(model, x, s, disable=True),
                          f"{source}: torchsde Brownian tree")
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_samplers(samplers: dict, x: torch.Tensor, sigmas: torch.Tensor, steps: int, repeats: int) -> dict[str, float]:
    """Best seconds a step over `repeats` interleaved rounds (one warm-up round first): the least
    disturbed round, as timeit does, since other processes share the machine."""
    fast = {k: v for k, v in samplers.items() if k not in SLOW}
    slow = {k: v for k, v in samplers.items() if k in SLOW}
    out = _time_rounds(fast, x, sigmas, steps, repeats)
    if slow:
        out.update(_time_rounds(slow, x, sigmas, steps, 3))
    return out


def _time_rounds(samplers: dict, x: torch.Tensor, sigmas: torch.Tensor, steps: int, repeats: int) -> dict[str, float]:
    names = list(samplers)
    times: dict[str, list[float]] = {n: [] for n in names}
    for rnd in range(repeats + 1):
        k = rnd % len(names)
        for name in names[k:] + names[:k]:
            sync(x.device)
            started = time.perf_counter()
            samplers[name][0](x, sigmas)
            sync(x.device)
            if rnd:
                times[name].append((time.perf_counter() - started) / steps)
    return {n: min(v) for n, v in times.items()}


class LiveTensors(TorchDispatchMode):
    """Sums the bytes of the live storages created by operators, after every operator."""

    def __init__(self, min_bytes: int = 4096):
        super().__init__()
        self.min_bytes = min_bytes
        self.live: dict[int, list] = {}
        self.peak = 0

    def current(self) -> int:
        total = 0
        for ptr in list(self.live):
            nbytes, refs = self.live[ptr]
            refs[:] = [r for r in refs if r() is not None]
            if refs:
                total += nbytes
            else:
                del self.live[ptr]
        return total

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                if storage.nbytes() >= self.min_bytes:
                    entry = self.live.setdefault(storage.data_ptr(), [storage.nbytes(), []])
                    entry[1].append(weakref.ref(t))
        self.peak = max(self.peak, self.current())
        return out


def memory_of(run: Callable, x: torch.Tensor, sigmas: torch.Tensor) -> tuple[float, float]:
    """(latents held while the model runs, at most over the steps; peak latents) for one call."""
    latent = x.numel() * x.element_size()
    held = [0]
    mode = LiveTensors()

    def watch(fn):
        def model(x_, sigma, **kw):
            held[0] = max(held[0], mode.current())
            return fn(x_, sigma, **kw)
        return model

    global free_model
    original = free_model
    free_model = watch(original)
    try:
        with mode:
            run(x, sigmas)
    finally:
        free_model = original
    return held[0] / latent, mode.peak / latent


def _profile_counts(run: Callable, x: torch.Tensor, sigmas: torch.Tensor) -> tuple[int, int]:
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if x.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        run(x, sigmas)
        sync(x.device)
    events = prof.events()
    top = sum(1 for e in events if e.name.startswith("aten::")
              and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")))
    kernels = 0
    if x.device.type == "cuda":
        from torch.autograd import DeviceType
        kernels = sum(1 for e in events if e.device_type == DeviceType.CUDA)
    return top, kernels


def op_counts(run: Callable, x: torch.Tensor, steps: int,
              longer: int | None = None) -> tuple[float, float, float | None]:
    """(aten operator calls a step, operator calls once per call, CUDA kernels a step or None).

    A step's count is the difference between a `longer`-step (default 2n) and an n-step run over
    their difference (n = 5), so the once-per-call setup (on the CPU for ER-SDE: validation,
    coefficients) is split off; top-level aten operators only, the model's one multiply a step
    not counted. Work the plan does once per step (on the CPU, in float64) counts as a step's.
    One unprofiled run first (lazy initialisations)."""
    longer = 2 * steps if longer is None else longer
    small = edm_sigmas(steps, torch.float32).to(x.device)
    big = edm_sigmas(longer, torch.float32).to(x.device)
    run(x, small)  # warm-up: a first call's one-time initialisations are no step's
    ops_small, k_small = _profile_counts(run, x, small)
    ops_big, k_big = _profile_counts(run, x, big)
    per_step = (ops_big - ops_small) / (longer - steps) - 1
    setup = ops_small - (per_step + 1) * steps
    kernels = (k_big - k_small) / (longer - steps) - 1 if x.device.type == "cuda" else None
    return per_step, setup, kernels


def plan_sampler(noise_scale: str, scheme: str, order: int = 3, guidance_scale: float | None = None) -> Callable:
    return lambda x, s: sample_er_sde(free_model, x, s, extra_args={"seed": 0}, disable=True, order=order,
                                      noise_scale=noise_scale, scheme=scheme, guidance_scale=guidance_scale)


def auto_pick(noise_scale: str, guidance_scale: float | None, steps: int) -> str:
    """The order and scheme "auto" runs at `steps` steps of the EDM schedule (its plan is, float for
    float, that choice's plan), e.g. "PC-3" or "ER-2"."""
    sigmas = validate_sigmas(edm_sigmas(steps, torch.float32))
    alphas, phi = validate_alphas(None, sigmas), resolve_noise_scale(noise_scale)
    plan = plan_steps(sigmas, alphas, phi, 3, "auto", 1.0, guidance_scale)
    for order in (1, 2, 3):
        for scheme, name in (("corrected", "ER"), ("predictor_corrector", "PC"), ("reference", "REF")):
            if plan == plan_steps(sigmas, alphas, phi, order, scheme, 1.0, guidance_scale):
                return f"{name}-{order}"
    raise AssertionError(f"auto's plan ({noise_scale}, cfg {guidance_scale}, {steps} steps) is no fixed choice's")


def plan_op_rows(x: torch.Tensor, config: str, comfy_ops: float | None) -> list[list[str]]:
    """Operator calls a step for every scheme and order and for "auto" (AUTO_GUIDANCE x AUTO_STEPS),
    paper noise and ODE: [config, sampler, ops a step, ops once a call, kernels, ratio to er_sde].
    Auto's count is taken between n - 1 and n steps, where its pick is the same (checked)."""
    rows = []

    def row(name: str, counts: tuple[float, float, float | None]) -> list[str]:
        ops, setup_ops, kernels = counts
        return [config, name, f"{ops:.1f}", f"{max(setup_ops, 0):.0f}", "-" if kernels is None else f"{kernels:.1f}",
                "n/a" if comfy_ops is None else f"{ops / comfy_ops:.2f}"]

    for noise_scale in PLAN_NOISE_SCALES:
        for scheme in PLAN_SCHEMES:
            for order in (1, 2, 3):
                rows.append(row(f"ER-SDE-{order} {scheme}, {noise_scale}",
                                op_counts(plan_sampler(noise_scale, scheme, order), x, 5)))
        for order in (1, 2, 3):  # the guard's cost: from cfg 8 it covers the corrector on quiet plans
            rows.append(row(f"ER-SDE-{order} predictor_corrector, {noise_scale}, cfg {GUARDED_CFG:g} (guarded)",
                            op_counts(plan_sampler(noise_scale, "predictor_corrector", order, GUARDED_CFG), x, 5)))
        for guidance, steps in auto_cells(noise_scale):
            pick = auto_pick(noise_scale, guidance, steps)
            if auto_pick(noise_scale, guidance, steps - 1) != pick:
                raise AssertionError(f"auto picks differently at {steps - 1} and {steps} steps: pick other counts")
            rows.append(row(f"auto, {noise_scale}, cfg {'unknown' if guidance is None else f'{guidance:g}'}, "
                            f"{steps} steps ({pick})",
                            op_counts(plan_sampler(noise_scale, "auto", 3, guidance), x, steps - 1, steps)))
    return rows


def auto_cells(noise_scale: str) -> list[tuple[float | None, int]]:
    """Auto's rows: cfg AUTO_GUIDANCE x AUTO_STEPS, then for every other setting its table names with
    this noise scale (k_diffusion_ext.auto_policy, unknown cfg included) the first cell that picks it."""
    from k_diffusion_ext.auto_policy import STEPS, TABLE
    cells: list[tuple[float | None, int]] = [(g, n) for g in AUTO_GUIDANCE for n in AUTO_STEPS]
    seen = {auto_pick(noise_scale, g, n) for g, n in cells}
    group = {"ode": "ode", "paper_default": "paper"}[noise_scale]
    for guidance in [None] + sorted(TABLE[group]):
        for steps in STEPS:
            pick = auto_pick(noise_scale, guidance, steps)
            if pick not in seen:
                seen.add(pick)
                cells.append((guidance, steps))
    return cells


def draw_times(x: torch.Tensor, repeats: int) -> tuple[float, float]:
    """(our Gaussian draw, one torch.randn of the same latent) in seconds, best of interleaved repeats."""
    ours = per_item_noise_sampler(x, seed=0)
    ours(1.0, 0.5)  # warm-up
    a, b = [], []
    for _ in range(repeats):
        sync(x.device)
        t0 = time.perf_counter()
        ours(1.0, 0.5)
        sync(x.device)
        t1 = time.perf_counter()
        torch.randn(x.shape, device=x.device, dtype=x.dtype)
        sync(x.device)
        a.append(t1 - t0)
        b.append(time.perf_counter() - t1)
    return min(a), min(b)


def thread_counts(spec: str) -> list[int]:
    every = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    counts = [every if part.strip() == "all" else int(part) for part in spec.split(",")]
    return list(dict.fromkeys(counts))


def configs(devices: list[str], threads: list[int], quick: bool):
    latents = {"SD1.5": LATENTS["SD1.5"]} if quick else LATENTS
    dtypes = {k: DTYPES[k] for k in ("float32", "bfloat16")} if quick else DTYPES
    for device in devices:
        for n_threads in (threads if device == "cpu" else [threads[-1]]):
            for name, shape in latents.items():
                for batch in ((1,) if quick else BATCHES[name]):
                    for dtype_name, dtype in dtypes.items():
                        tag = f"{device} {n_threads}t" if device == "cpu" else device
                        yield f"{tag} {name} b{batch} {dtype_name}", torch.device(device), n_threads, name, (batch, *shape), dtype


def ratio(times: dict[str, float], a: str, b: str) -> float | None:
    return times[a] / times[b] if a in times and b in times else None


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SD1.5 batch 1, float32 and bfloat16, fewer repeats")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every available one)")
    parser.add_argument("--threads", default="1,all", help="CPU thread counts, comma-separated ('all' = every core)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--diffusers", action="store_true",
                        help="only the diffusers schedulers and ER-SDE-3: writes overhead_diffusers.md / .json")
    parser.add_argument("--ops-only", action="store_true",
                        help="only the operator counts (no timing, no memory): writes overhead_ops.md / .json")
    args = parser.parse_args(argv)
    out = out_dir("overhead", args.out, args.quick)
    threads = [1] if args.quick else thread_counts(args.threads)
    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    notes: list[str] = []
    if "cuda" not in devices:
        notes.append("no GPU measured (CUDA not available on this machine): no GPU rows, no kernel-launch count; "
                     "run `python -m bench.overhead --device cuda` where one is")
    if args.ops_only:
        notes.append("operator counts only: no sampler was timed and no memory measured here (those are "
                     "overhead.md's, from its own run)")
    started = time.perf_counter()
    rows_ratio, rows_time, rows_draw, rows_diffusers, results = [], [], [], [], []
    for label, device, n_threads, latent, shape, dtype in ([] if args.ops_only else
                                                           configs(devices, threads, args.quick)):
        torch.set_num_threads(n_threads)
        big = torch.Size(shape).numel() > 2_000_000
        repeats = args.repeats or (3 if args.quick or big else 9)
        steps = 10 if big else args.steps
        gen = torch.Generator(device=device).manual_seed(0)
        sigmas = edm_sigmas(steps, torch.float32).to(device)
        x = (torch.randn(shape, generator=gen, device=device, dtype=torch.float32) * sigmas[0]).to(dtype)
        # the torchsde tree takes seconds a step on a video latent: timed on images only
        samplers = build_samplers(torch.randn_like(x), notes, with_tree=not big, only_diffusers=args.diffusers)
        times = time_samplers(samplers, x, sigmas, steps, repeats)
        for name, (_, noise_kind) in samplers.items():
            rows_time.append([label, name, noise_kind, f"{times[name] * 1e6:.0f}"])
            results.append({"config": label, "sampler": name, "noise": noise_kind, "us_per_step": times[name] * 1e6})
        if ER3_SCHEDULER in times:
            peers = (DIFFUSERS_DPM_SDE, DIFFUSERS_SA)
            rows_diffusers.append([label] + [f"{times[n] * 1e6:.0f}" for n in (ER3_SCHEDULER, *peers)]
                                  + [fmt(ratio(times, ER3_SCHEDULER, n)) for n in (*peers, ER3)])
        if args.diffusers:
            print(f"[{time.perf_counter() - started:6.0f} s] {label} done", flush=True)
            continue
        ours, randn = draw_times(x, max(repeats, 5))
        rows_ratio.append([label] + [fmt(ratio(times, f"ER-SDE-{o}", COMFY_ER)) for o in (1, 2, 3)]
                          + [fmt(ratio(times, ER3_FREE, COMFY_ER_FREE)), fmt(ratio(times, ER3_FREE, DPM2M)),
                             fmt(ratio(times, ER3, EULER_A)), fmt(ratio(times, ER3_BROWNIAN, DPM2M_SDE), 3)])
        rows_draw.append([label, f"{ours * 1e6:.0f}", f"{randn * 1e6:.0f}", f"{ours / randn:.2f}"])
        results.append({"config": label, "sampler": "Gaussian draw alone", "us_per_step": ours * 1e6,
                        "torch_randn_us": randn * 1e6})
        print(f"[{time.perf_counter() - started:6.0f} s] {label} done", flush=True)

    rows_ops, rows_mem, rows_plan = [], [], []
    for device_name in devices:
        device = torch.device(device_name)
        torch.set_num_threads(threads[0])
        for batch in (1, 8):
            x = torch.randn(batch, *LATENTS["SD1.5"], device=device) * 80
            samplers = build_samplers(torch.randn_like(x), notes, only_diffusers=args.diffusers)
            comfy_ops = None
            for name, (run, _) in samplers.items():
                ops, setup_ops, kernels = op_counts(run, x, 5)
                comfy_ops = ops if name == COMFY_ER else comfy_ops
                row = [f"{device_name} SD1.5 b{batch} float32", name, f"{ops:.1f}", f"{max(setup_ops, 0):.0f}",
                       "-" if kernels is None else f"{kernels:.1f}"]
                if batch == 1 and not args.ops_only:
                    held, peak = memory_of(run, x, edm_sigmas(10, torch.float32).to(device))
                    rows_mem.append([row[0], name, f"{held:.2f}", f"{held - 1:.2f}", f"{peak:.2f}", f"{peak - 2:.2f}"])
                rows_ops.append(row)
                results.append({"config": row[0], "sampler": name, "ops_per_step": ops, "setup_ops": setup_ops,
                                "kernels_per_step": kernels})
            if batch == 1 and not args.diffusers:
                rows_plan += plan_op_rows(x, f"{device_name} SD1.5 b1 float32", comfy_ops)
    for row in rows_plan:
        results.append({"config": row[0], "sampler": row[1], "ops_per_step": float(row[2]),
                        "setup_ops": float(row[3]), "kernels_per_step": None if row[4] == "-" else float(row[4])})
    notes = list(dict.fromkeys(notes))
    title = "Overhead benchmark" + (": diffusers schedulers" if args.diffusers else "") + (
        ": operator counts only (no timing, no memory: see overhead.md for those)" if args.ops_only else "")
    report = [header(title + (" (--quick)" if args.quick else ""),
                     ["bench.overhead"] + (sys.argv[1:] if argv is None else argv))]
    report.append("- notes: " + "; ".join(notes) + "\n" if notes else "")
    report.append("- model: one multiply (x * 0.5) on the EDM schedule; SD1.5 latent, float32\n" if args.ops_only else
                  f"- model: one multiply (x * 0.5); {args.steps} steps on the EDM schedule (10 on the video latent; "
                  "the last step, to sigma 0, returns the prediction); best of interleaved repeats (9, or 3 on the "
                  "video latent; 3 for dpmpp_2m_sde with its Brownian tree, timed after the others). 'Nt' = N CPU threads.\n")
    diffusers_table = ("## diffusers schedulers (per-step time in a pipeline's loop, us; ratios lower is better for "
                       "ER-SDE)\n\n"
                       "Each scheduler as a pipeline runs it: set_timesteps, then step() after each model call, SD1.5 "
                       "betas, Karras sigmas, a seeded torch.Generator passed to step(). Target: the ER-SDE scheduler "
                       "no slower than DPMSolverMultistep's SDE variant.\n\n"
                       + markdown_table(["config", "ERSDESolverScheduler", "DPMSolverMultistep sde-dpmsolver++",
                                         "SASolver", "ER-SDE scheduler / DPM++ SDE", "ER-SDE scheduler / SA-Solver",
                                         "ER-SDE scheduler / sample_er_sde"], rows_diffusers))
    if args.ops_only:
        report.append(_ops_tables(rows_ops, rows_plan))
    else:
        if args.diffusers:
            report.append(diffusers_table)
        else:
            report.append(_main_tables(rows_ratio, rows_draw) + ("\n" + diffusers_table if rows_diffusers else ""))
        report.append(_common_tables(rows_ops, rows_time, rows_mem, rows_plan))
    report.append(f"\nTotal time {time.perf_counter() - started:.0f} s.\n")
    text = "\n".join(report)
    stem = "overhead_ops" if args.ops_only else "overhead_diffusers" if args.diffusers else "overhead"
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps({"notes": notes, "results": results}, indent=1))
    print(text)


def _main_tables(rows_ratio: list, rows_draw: list) -> str:
    return ("## Ratios (per-step time, lower is better for ER-SDE)\n\n"
            "Targets: ER-SDE / ComfyUI er_sde <= 0.5 on every row; ER-SDE-3 with Brownian noise / dpmpp_2m_sde "
            "(torchsde tree) <= 0.25 on the CPU (1 thread), <= 0.05 on a GPU.\n\n"
            + markdown_table(["config", "ER-SDE-1 / er_sde", "ER-SDE-2 / er_sde", "ER-SDE-3 / er_sde",
                              "both without noise draw", "ER-SDE-3 no draw / dpmpp_2m", "ER-SDE-3 / euler_a",
                              "ER-SDE-3 Brownian / dpmpp_2m_sde"], rows_ratio)
            + "\n## The Gaussian draw alone against one torch.randn of the same latent\n\n"
            "Targets: <= 2x on 1 CPU thread, <= 1x with all threads.\n\n"
            + markdown_table(["config", "our draw (us)", "torch.randn (us)", "ratio"], rows_draw))


def _ops_tables(rows_ops: list, rows_plan: list) -> str:
    return ("\n## Operator calls a step\n\n"
            "Top-level aten operators a step (from the difference of a 10- and a 5-step run), the model's "
            "multiply not counted. Target: <= 30 for ER-SDE, noise included, the same at batch 1 and 8.\n\n"
            + markdown_table(["config", "sampler", "aten ops / step", "aten ops once a call",
                              "CUDA kernels / step"], rows_ops)
            + ("\n## Operator calls a step by scheme, order and auto's pick\n\n"
               "The same count for every scheme and order (10- and 5-step runs) and for scheme auto at each "
               "guidance scale and step count (between n - 1 and n steps, where its pick, in brackets, is the "
               "same; ER-k: order k corrected, PC-k: order k predictor_corrector, REF-k: order k reference), with "
               "the paper's noise "
               "(paper_default) and on the ODE. Work the plan does once per step (CPU, float64) counts as a "
               "step's. Target: <= 0.5 x ComfyUI's er_sde on every row.\n\n"
               + markdown_table(["config", "sampler", "aten ops / step", "aten ops once a call",
                                 "CUDA kernels / step", "/ er_sde (ComfyUI)"], rows_plan) if rows_plan else ""))


def _common_tables(rows_ops: list, rows_time: list, rows_mem: list, rows_plan: list) -> str:
    return (_ops_tables(rows_ops, rows_plan)
            + "\n## Time a step (us)\n\n"
            "Includes the model's multiply and the once-per-call setup spread over the steps.\n\n"
            + markdown_table(["config", "sampler", "noise", "us / step"], rows_time)
            + "\n## Memory in latent-sized buffers (caller's input not counted)\n\n"
            "held: alive while the model runs (adds to the model's own peak; the model's input, i.e. the "
            "state, is one of them); peak: most alive at any moment of the call. Every sampler needs the "
            "state and the model's prediction; the 'extra' columns count the rest. Target: at most 3 extra "
            "latents.\n\n"
            + markdown_table(["config", "sampler", "held during model call", "extra held (beyond the state)",
                              "peak", "extra at peak (beyond state and prediction)"], rows_mem))


if __name__ == "__main__":
    main()
