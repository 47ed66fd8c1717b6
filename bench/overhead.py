"""Overhead benchmark: per-step cost of the samplers themselves, with a nearly free model.

    python -m bench.overhead [--quick] [--device cpu|cuda] [--threads 1] [--out DIR]

The model is one multiply (x * 0.5), so what is timed is the sampler: its update, its
noise draw and its Python. Latents: SD1.5 (B x 4 x 64 x 64) and SDXL (B x 4 x 128 x 128),
batch 1 and 4, float32 and bfloat16. Compared in the same run, interleaved (every repeat
runs every sampler once, in a rotating order), median over repeats, reported as ratios:

- ER-SDE-Solver 1/2/3 (k_diffusion_ext, default per-item noise sampler: one CPU generator
  per batch item, then a copy to the device),
- ComfyUI's er_sde (comfy.k_diffusion.sampling, its default noise: torch.randn with one
  generator on the latent's device) when COMFYUI_DIR is set,
- PyPI k-diffusion's dpmpp_2m (ODE, draws nothing) and dpmpp_2m_sde (default noise: a
  torchsde Brownian tree),
- and each SDE sampler again with the noise draw left out (a noise sampler that returns a
  pre-drawn latent), which isolates the update's own cost.

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
import statistics
import sys
import time
import weakref
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from k_diffusion_ext import sample_er_sde

from .common import header, markdown_table, out_dir
from .samplers import comfy_module, edm_sigmas

SHAPES = {"SD1.5": (4, 64, 64), "SDXL": (4, 128, 128)}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def free_model(x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
    return x * 0.5


def build_samplers(noise: torch.Tensor, notes: list[str]) -> dict[str, tuple[Callable, str]]:
    """name -> (run(x, sigmas), noise description). run returns the sampled latent."""
    fixed = lambda sigma, sigma_next: noise  # noqa: E731 - the noise draw left out
    out: dict[str, tuple[Callable, str]] = {}
    for order in (1, 2, 3):
        out[f"ER-SDE-{order}"] = (lambda x, s, o=order: sample_er_sde(free_model, x, s, extra_args={"seed": 0},
                                                                        disable=True, order=o),
                                  "per-item CPU generators")
    for order in (1, 2, 3):
        out[f"ER-SDE-{order} (no noise draw)"] = (
            lambda x, s, o=order: sample_er_sde(free_model, x, s, disable=True, order=o, noise_sampler=fixed),
            "pre-drawn latent")
    comfy, note = comfy_module()
    if comfy is None:
        notes.append(note)
    else:
        from .samplers import _ComfyModel
        cmodel = _ComfyModel(lambda *a, **k: free_model(*a, **k), comfy.model_sampling)  # late lookup: memory_of wraps it
        out["er_sde (ComfyUI)"] = (lambda x, s: comfy.sampling.sample_er_sde(cmodel, x, s, extra_args={"seed": 0},
                                                                             disable=True),
                                   "torch.randn, one generator on the device")
        out["er_sde (ComfyUI, no noise draw)"] = (lambda x, s: comfy.sampling.sample_er_sde(
            cmodel, x, s, disable=True, noise_sampler=fixed), "pre-drawn latent")
    try:
        import k_diffusion.sampling as kds
    except Exception as exc:  # noqa: BLE001
        notes.append(f"k-diffusion not importable ({exc.__class__.__name__}: {exc}): its samplers are skipped")
    else:
        out["DPM++2M ODE (k-diff)"] = (lambda x, s: kds.sample_dpmpp_2m(free_model, x, s, disable=True), "none")
        out["DPM++2M-SDE (k-diff)"] = (lambda x, s: kds.sample_dpmpp_2m_sde(free_model, x, s, disable=True),
                                       "torchsde Brownian tree")
        out["DPM++2M-SDE (k-diff, no noise draw)"] = (
            lambda x, s: kds.sample_dpmpp_2m_sde(free_model, x, s, disable=True, noise_sampler=fixed),
            "pre-drawn latent")
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


SLOW = {"DPM++2M-SDE (k-diff)"}  # its Brownian tree costs ~50-100x the others: 3 repeats, after the rest


def time_samplers(samplers: dict, x: torch.Tensor, sigmas: torch.Tensor, steps: int, repeats: int) -> dict[str, float]:
    """Median seconds a step over `repeats` interleaved rounds (one warm-up round first)."""
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
    return {n: statistics.median(v) for n, v in times.items()}


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
    import k_diffusion_ext.er_sde  # noqa: F401

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


def op_counts(run: Callable, x: torch.Tensor, steps: int) -> tuple[float, float, float | None]:
    """(aten operator calls a step, operator calls once per call, CUDA kernels a step or None).

    A step's count is the difference between a 2n-step and an n-step run over n (n = 5), so the
    once-per-call setup (on the CPU for ER-SDE: validation, coefficients) is split off;
    top-level aten operators only, the model's one multiply a step not counted."""
    small = edm_sigmas(steps, torch.float32).to(x.device)
    big = edm_sigmas(2 * steps, torch.float32).to(x.device)
    ops_small, k_small = _profile_counts(run, x, small)
    ops_big, k_big = _profile_counts(run, x, big)
    per_step = (ops_big - ops_small) / steps - 1
    setup = ops_small - (per_step + 1) * steps
    kernels = (k_big - k_small) / steps - 1 if x.device.type == "cuda" else None
    return per_step, setup, kernels


def unet_ratio(device: torch.device, dtype: torch.dtype, step_seconds: float, notes: list[str]) -> str:
    """Sampler step time over one random SD1.5-size UNet forward (CUDA only, needs diffusers)."""
    try:
        from diffusers import UNet2DConditionModel
    except ImportError:
        notes.append("diffusers not installed: no SD1.5 UNet forward timed")
        return "n/a"
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768).to(device, dtype).eval()
    x = torch.randn(1, 4, 64, 64, device=device, dtype=dtype)
    ctx = torch.randn(1, 77, 768, device=device, dtype=dtype)
    t = torch.tensor([500], device=device)
    with torch.no_grad():
        for _ in range(3):
            unet(x, t, ctx)
        sync(device)
        started = time.perf_counter()
        for _ in range(10):
            unet(x, t, ctx)
        sync(device)
    fwd = (time.perf_counter() - started) / 10
    return f"{step_seconds / fwd:.4f} (UNet {fwd * 1e3:.1f} ms)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="SD1.5 batch 1 only, fewer repeats")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: every available one)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = out_dir(args.out, args.quick)
    repeats = args.repeats or (5 if args.quick else 11)
    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    notes: list[str] = []
    if "cuda" not in devices:
        notes.append("no GPU measured (CUDA not available on this machine): no kernel-launch count, "
                     "no UNet ratio; run `python -m bench.overhead --device cuda` where one is")
    shapes = {"SD1.5": SHAPES["SD1.5"]} if args.quick else SHAPES
    batches = (1,) if args.quick else (1, 4)
    started = time.perf_counter()
    rows_time, rows_ratio, rows_mem, results = [], [], [], []
    randn_rows = []
    for device_name in devices:
        device = torch.device(device_name)
        for shape_name, shape in shapes.items():
            for batch in batches:
                for dtype_name, dtype in DTYPES.items():
                    gen = torch.Generator(device=device).manual_seed(0)
                    x = torch.randn((batch, *shape), generator=gen, device=device, dtype=torch.float32).to(dtype)
                    sigmas = edm_sigmas(args.steps, torch.float32).to(device)
                    x = x * sigmas[0]
                    noise = torch.randn_like(x)
                    samplers = build_samplers(noise, notes)
                    per_step = time_samplers(samplers, x, sigmas, args.steps, repeats)
                    # the noise draw alone, for scale
                    sync(device)
                    t0 = time.perf_counter()
                    for _ in range(10):
                        torch.randn(x.shape, device=device, dtype=dtype)
                    sync(device)
                    randn_us = (time.perf_counter() - t0) / 10 * 1e6
                    label = f"{device_name} {shape_name} b{batch} {dtype_name}"
                    randn_rows.append([label, f"{randn_us:.0f}"])
                    for name, (run, noise_kind) in samplers.items():
                        held, peak = memory_of(run, x, edm_sigmas(10, torch.float32).to(device))
                        ops, setup_ops, kernels = op_counts(run, x, 5)
                        results.append({"config": label, "sampler": name, "noise": noise_kind,
                                        "us_per_step": per_step[name] * 1e6, "held_latents": held,
                                        "peak_latents": peak, "ops_per_step": ops, "setup_ops": setup_ops,
                                        "kernels_per_step": kernels})
                        rows_time.append([label, name, noise_kind, f"{per_step[name] * 1e6:.0f}", f"{ops:.1f}", f"{max(setup_ops, 0):.0f}",
                                          "-" if kernels is None else f"{kernels:.1f}"])
                        rows_mem.append([label, name, f"{held:.2f}", f"{held - 1:.2f}", f"{peak:.2f}", f"{peak - 2:.2f}"])
                    ratio = lambda a, b: (f"{per_step[a] / per_step[b]:.2f}"  # noqa: E731
                                          if a in per_step and b in per_step else "n/a")
                    for order in (1, 2, 3):
                        er, er_free = f"ER-SDE-{order}", f"ER-SDE-{order} (no noise draw)"
                        rows_ratio.append([label, er, ratio(er, "er_sde (ComfyUI)"),
                                           ratio(er_free, "er_sde (ComfyUI, no noise draw)"),
                                           ratio(er_free, "DPM++2M ODE (k-diff)"),
                                           ratio(er, "DPM++2M-SDE (k-diff)")])
                    print(f"[{time.perf_counter() - started:6.1f} s] {label} done", flush=True)
    notes = list(dict.fromkeys(notes))
    report = [header("Overhead benchmark" + (" (--quick)" if args.quick else ""),
                     ["bench.overhead"] + (sys.argv[1:] if argv is None else argv))]
    report.append("- notes: " + "; ".join(notes) + "\n" if notes else "")
    report.append(f"- model: one multiply (x * 0.5); {args.steps} steps on the EDM schedule (the last one, to sigma 0, "
                  f"returns the prediction); median of {repeats} interleaved repeats (3 for DPM++2M-SDE with its Brownian tree, timed after the others); {args.threads} CPU thread(s).\n")
    report.append("## Ratios (per-step time, lower is better for ER-SDE)\n\n"
                  "Targets: ER-SDE / ComfyUI er_sde <= 0.5; ER-SDE without its noise draw / DPM++2M ODE <= 1.2.\n\n"
                  + markdown_table(["config", "sampler", "/ ComfyUI er_sde", "/ ComfyUI er_sde (both no noise draw)",
                                    "no noise draw / DPM++2M ODE", "/ DPM++2M-SDE (k-diff, Brownian)"], rows_ratio))
    report.append("\n## Time a step and operator calls a step\n\n"
                  "Time includes the model's multiply and the once-per-call setup spread over the steps; operator "
                  "calls are top-level aten operators, a step's from the difference of a 10- and a 5-step run, "
                  "the model's multiply not counted.\n\n"
                  + markdown_table(["config", "sampler", "noise sampler", "us / step", "aten ops / step",
                                    "aten ops once a call", "CUDA kernels / step"], rows_time))
    report.append("\n## One Gaussian latent, torch.randn (the floor of any SDE sampler's noise draw)\n\n"
                  + markdown_table(["config", "us"], randn_rows))
    report.append("\n## Memory in latent-sized buffers (caller's input not counted)\n\n"
                  "held: alive while the model runs (adds to the model's own peak; the model's input, i.e. the "
                  "state, is one of them); peak: most alive at any moment of the call (bfloat16 runs count a "
                  "float32 noise draw as 2). Every sampler needs the state and the model's prediction; the "
                  "'extra' columns count the rest. Target: at most 3 extra latents.\n\n"
                  + markdown_table(["config", "sampler", "held during model call", "extra held (beyond the state)",
                                    "peak", "extra at peak (beyond state and prediction)"], rows_mem))
    report.append(f"\nTotal time {time.perf_counter() - started:.0f} s.\n")
    text = "\n".join(report)
    (out / "overhead.md").write_text(text)
    (out / "overhead.json").write_text(json.dumps({"notes": notes, "results": results}, indent=1))
    print(text)


if __name__ == "__main__":
    main()
