"""CFG++ benchmark: FID against class accuracy across guidance scales, at equal NFE.

    python -m bench.cfg_pp [--quick] [--n N] [--seeds K] [--space edm|flow] [--out DIR]

Model: the class-conditional digits model (bench/models/labelled.py) with classifier-free
guidance; one guided evaluation (conditional and unconditional from one batched net call)
is one model call. Samplers:
- ER-SDE-3 CFG++ (this project: guided data term, unconditional re-noising, the paper's
  noise scale; `sample_er_sde(..., uncond=...)`),
- ER-SDE-3 with plain CFG,
- ComfyUI's euler_ancestral_cfg_pp and dpmpp_2m_cfg_pp (COMFYUI_DIR; they read the
  unconditional prediction through the post-CFG hook, as in ComfyUI).

Protocol (fixed before any result of it was looked at):
- NFE 10, 20, 50; EDM schedule (rho 7, sigma 0.002..80, then 0), or SD3's shifted flow
  schedule with --space flow; every sampler one call a step here;
- guidance scales: CFG w in CFG_SCALES; the CFG++ samplers g in CFG_PP_SCALES (CFG++ scales
  act like CFG at several times the value, so the two grids differ; what is compared is the
  curve, not the number);
- every cell starts from the same noise per seed; labels 0..9 equally often; the samplers
  run interleaved (seed, NFE, scale, sampler);
- scores: FID to the 1797 real digits in the digit classifier's 64 features, and the
  classifier's accuracy on the requested class; mean over seeds (std in the JSON);
- comparison at equal accuracy: for each level L of ACCURACY_LEVELS, a sampler's lowest FID
  at accuracy >= L over its scales (the grid points, and the curve interpolated linearly
  between neighbouring scales where it crosses L); "not reached" where no scale gets to L.
Writes cfg_pp.md, cfg_pp.json and cfg_pp.png (one panel per NFE).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from k_diffusion_ext import sample_er_sde

from .common import header, markdown_table, out_dir
from .metrics import frechet_stats, gaussian_stats
from .models import labelled_problem
from .samplers import CountingModel, Sampler, _alphas, _comfy_run, comfy_module, ours, sigmas_for

NFES = (10, 20, 50)
CFG_SCALES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.5)
CFG_PP_SCALES = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)
ACCURACY_LEVELS = (0.80, 0.90, 0.95, 0.98, 0.99, 1.00)
START_OFFSET = 1_000_003
SEED_STRIDE = 10_000_019
FULL = {"n": 1000, "seeds": 3}
QUICK = {"n": 300, "seeds": 1}


def ours_cfg_pp(order: int, noise_scale: str = "paper_default"):
    """ER-SDE with CFG++: the unconditional prediction comes from the guided model's batched call."""
    def run(model, x, sigmas, seed, space="edm"):
        last: dict = {}

        def guided(x, sigma, **kwargs):
            if hasattr(model, "both"):
                out, last["uncond"] = model.both(x, sigma)
            else:  # a model without guidance (the NFE dry run): CFG++ is the plain update
                out = last["uncond"] = model(x, sigma, **kwargs)
            return out

        return sample_er_sde(guided, x, sigmas, extra_args={"seed": seed}, disable=True, order=order,
                             noise_scale=noise_scale, alphas=_alphas(sigmas, space), uncond=lambda: last["uncond"])
    return run


def samplers() -> tuple[list[tuple[Sampler, tuple[float, ...]]], list[str]]:
    out = [(Sampler("ER-SDE-3 CFG++", ours_cfg_pp(3), "paper", True, "per-item Gaussian", "-"), CFG_PP_SCALES),
           (Sampler("ER-SDE-3 (CFG)", ours(3), "paper", True, "per-item Gaussian", "--"), CFG_SCALES)]
    comfy, note = comfy_module()
    if comfy is None:
        return out, [note]
    for name in ("euler_ancestral_cfg_pp", "dpmpp_2m_cfg_pp"):
        out.append((Sampler(name, _comfy_run(comfy, name, False, {}), "peer", False, "torch.randn", ":"),
                    CFG_PP_SCALES))
    return out, []


def best_fid_at_accuracy(points: list[tuple[float, float]], level: float) -> float | None:
    """The lowest FID at accuracy >= level along a curve of (accuracy, FID) points in scale order:
    the points themselves and the linear interpolation where a segment crosses the level."""
    candidates = [f for a, f in points if a >= level]
    for (a0, f0), (a1, f1) in zip(points, points[1:]):
        if min(a0, a1) < level < max(a0, a1):
            candidates.append(f0 + (f1 - f0) * (level - a0) / (a1 - a0))
    return min(candidates) if candidates else None


def run(n: int, seeds: list[int], space: str, log) -> dict:
    problem = labelled_problem(space, 1.0, n)
    guided = problem.model  # bench.models.labelled.CFG; its scale is set per cell
    chosen, notes = samplers()
    cells: dict = {}
    for k, seed in enumerate(seeds):
        noise = torch.randn(n, problem.dim, generator=torch.Generator().manual_seed(seed + START_OFFSET),
                            dtype=problem.dtype)
        for nfe in NFES:
            sigmas = sigmas_for(space, nfe, problem.dtype)
            for i in range(len(CFG_SCALES)):
                for j, (sampler, scales) in enumerate(chosen[k % len(chosen):] + chosen[:k % len(chosen)]):
                    guided.scale = float(scales[i])
                    counted = CountingModel(guided)
                    out = sampler.run(counted, noise * sigmas[0], sigmas, seed, space)
                    if counted.calls != nfe:
                        raise RuntimeError(f"{sampler.name} made {counted.calls} model calls at NFE {nfe}")
                    stats = gaussian_stats(problem.features(out))
                    cell = cells.setdefault(f"{sampler.name}|{nfe}|{scales[i]:g}", {"fid": [], "acc": []})
                    cell["fid"].append(frechet_stats(stats, problem.data_stats))
                    cell["acc"].append(problem.accuracy(out))
            log(f" seed {seed} NFE {nfe} done")
    result = {"space": space, "n": n, "seeds": seeds, "notes": notes, "samplers": {}}
    for sampler, scales in chosen:
        curves = {}
        for nfe in NFES:
            rows = []
            for s in scales:
                c = cells[f"{sampler.name}|{nfe}|{s:g}"]
                rows.append({"scale": s, "fid": float(np.mean(c["fid"])), "fid_std": float(np.std(c["fid"], ddof=1))
                             if len(c["fid"]) > 1 else 0.0, "acc": float(np.mean(c["acc"])),
                             "acc_std": float(np.std(c["acc"], ddof=1)) if len(c["acc"]) > 1 else 0.0})
            curves[str(nfe)] = rows
        result["samplers"][sampler.name] = {"ours": sampler.ours, "style": sampler.style, "curves": curves}
    return result


def equal_accuracy_table(result: dict) -> tuple[str, list[str]]:
    head = ["NFE", "class accuracy"] + list(result["samplers"]) + ["lowest FID"]
    rows, verdicts = [], []
    for nfe in NFES:
        for level in ACCURACY_LEVELS:
            values = {}
            for name, entry in result["samplers"].items():
                points = [(r["acc"], r["fid"]) for r in entry["curves"][str(nfe)]]
                values[name] = best_fid_at_accuracy(points, level)
            reached = {k: v for k, v in values.items() if v is not None}
            best = min(reached, key=reached.get) if reached else None
            rows.append([str(nfe), f">= {level:.2f}"] + [f"{v:.2f}" if v is not None else "not reached"
                                                      for v in values.values()] + [best or "-"])
            if best is not None:
                verdicts.append(f"NFE {nfe}, accuracy {level:.2f}: {best}"
                                + ("" if len(reached) == len(values) else
                                   f" (not reached by {', '.join(k for k in values if k not in reached)})"))
    return markdown_table(head, rows), verdicts


def report(result: dict, argv: list[str]) -> str:
    text = [header("CFG++ benchmark", argv),
            f"- model: class-conditional digits ({result['space']}), {result['n']} samples per seed, "
            f"seeds {result['seeds']}; protocol in `bench/cfg_pp.py`'s docstring\n",
            "- notes: " + ("; ".join(result["notes"]) if result["notes"] else "ComfyUI's cfg_pp samplers present") + "\n"]
    table, verdicts = equal_accuracy_table(result)
    text += ["## Lowest FID at a given class accuracy\n", "Each sampler's lowest FID among its guidance scales "
             "whose class accuracy is at least the level (interpolated between neighbouring scales; lower is "
             "better; \"not reached\": no scale of the grid gets there).\n", table]
    text += ["Lowest FID per cell: " + "; ".join(verdicts) + ".\n"]
    for name, entry in result["samplers"].items():
        text.append(f"## {name}\n")
        head = ["scale"] + [f"FID {nfe}" for nfe in NFES] + [f"acc {nfe}" for nfe in NFES]
        rows = []
        for i, row in enumerate(entry["curves"][str(NFES[0])]):
            cells = [entry["curves"][str(nfe)][i] for nfe in NFES]
            rows.append([f"{row['scale']:g}"] + [f"{c['fid']:.2f} ± {c['fid_std']:.2f}" for c in cells]
                        + [f"{c['acc']:.3f}" for c in cells])
        text.append(markdown_table(head, rows))
    return "\n".join(text)


def plot(result: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(NFES), figsize=(5 * len(NFES), 4.2), sharey=True)
    for ax, nfe in zip(axes, NFES):
        for name, entry in result["samplers"].items():
            rows = entry["curves"][str(nfe)]
            ax.plot([r["acc"] for r in rows], [r["fid"] for r in rows], entry["style"], marker="o", ms=3,
                    lw=2.2 if entry["ours"] else 1.4, label=name)
        ax.set_title(f"NFE {nfe}")
        ax.set_xlabel("class accuracy")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("FID (digit features)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"CFG++ vs CFG, class-conditional digits ({result['space']}): FID against class accuracy "
                 "across guidance scales")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 samples, 1 seed")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--space", default="edm", choices=("edm", "flow"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    size = QUICK if args.quick else FULL
    seeds = [k * SEED_STRIDE for k in range(args.seeds or size["seeds"])]
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s]{msg}", flush=True)

    result = run(args.n or size["n"], seeds, args.space, log)
    out = out_dir("cfg_pp", args.out, args.quick)
    stem = "cfg_pp" if args.space == "edm" else f"cfg_pp_{args.space}"
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(report(result, ["bench.cfg_pp"] + (sys.argv[1:] if argv is None else argv)))
    plot(result, out / f"{stem}.png")
    log(f" wrote {out / stem}.md/.json/.png")


if __name__ == "__main__":
    main()
