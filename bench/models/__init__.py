"""The models the quality benchmark samples: one registry, BENCHMARKS, one entry per model.

Each entry builds a `Problem`: the sampler's model (k-diffusion convention, classifier-free
guidance already applied through bench.models.labelled.CFG), the latent space ("edm" or
"flow"), the starting noise of a seed, and the features whose Frechet distance is the score
(raw coordinates for the exact mixture, the digit classifier's 64 penultimate features for
the digits models), with the data's feature statistics and, for class-conditional models,
the classifier's accuracy on the requested class.

Models and their weights (training scripts beside them, in this folder):
- digits.py / train_digits.py / weights/digits.pt: unconditional EDM digits denoiser and the
  digit classifier;
- labelled.py / train_labelled.py / weights/labelled_{edm,flow}.pt: class-conditional EDM and
  rectified-flow digits denoisers with label dropout (classifier-free guidance);
- photo.py / train_photo.py / weights/photo_{edm,flow,classifier}.pt: the same class-conditional
  EDM and rectified-flow denoisers trained on 8 x 8 patches of real photographs (and 8 x 8 LFW
  faces), with a source classifier for the features. HELD OUT: nothing of the project is fitted
  on them; they are registered (names in HELD_OUT) for reports beside the fitted families, and
  the default model lists of the benchmarks (FITTED) leave them out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..metrics import class_accuracy, gaussian_stats

MIXTURE = {"dim": 16, "components": 8, "std": 0.3, "seed": 1234}


@dataclass
class Problem:
    name: str
    title: str
    space: str                                      # "edm" or "flow"
    dtype: torch.dtype
    dim: int
    model: Callable[..., torch.Tensor]
    features: Callable[[torch.Tensor], np.ndarray]  # samples -> feature rows (float64)
    data_stats: tuple[np.ndarray, np.ndarray]       # mean and covariance of the data's features
    data_label: str                                 # what "FID to data" compares with
    accuracy: Callable[[torch.Tensor], float] | None = None
    notes: list[str] = field(default_factory=list)
    data_floor: Callable[[int, int], np.ndarray] | None = None  # (n, seed) -> n independent data features


def mixture_problem(n: int) -> Problem:
    from k_diffusion_ext.analytic import mixture_denoiser, sample_mixture
    g = torch.Generator().manual_seed(MIXTURE["seed"])
    means = torch.randn(MIXTURE["components"], MIXTURE["dim"], generator=g, dtype=torch.float64)
    std = MIXTURE["std"]
    mu = means.mean(0)
    centered = means - mu
    cov = std * std * torch.eye(MIXTURE["dim"], dtype=torch.float64) + centered.T @ centered / means.shape[0]
    return Problem("mixture", f"Exact Gaussian mixture ({MIXTURE['dim']}-D, {MIXTURE['components']} components, "
                   f"std {std}, float64): only the sampler's error is left", "edm", torch.float64, MIXTURE["dim"],
                   mixture_denoiser(means, std), lambda x: x.double().numpy(), (mu.numpy(), cov.numpy()),
                   "the exact moments",
                   data_floor=lambda k, seed: sample_mixture(means, std, k, torch.Generator().manual_seed(seed)).numpy())


def _digits_features():
    from .digits import load_digits_data, load_models
    _, classifier = load_models()
    real = load_digits_data()

    def features(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return classifier.features(x.float().clamp(-1, 1)).double().numpy()

    def floor(k: int, seed: int) -> np.ndarray:  # a bootstrap resample of the real digits
        idx = torch.randint(0, real.shape[0], (k,), generator=torch.Generator().manual_seed(seed))
        return features(real[idx])
    return classifier, features, gaussian_stats(features(real)), floor


def digits_problem(n: int) -> Problem:
    from .digits import as_sampler_model, load_models
    denoiser, _ = load_models()
    _, features, stats, floor = _digits_features()
    return Problem("digits", "Unconditional digits model (EDM-preconditioned MLP, bench/models/weights/digits.pt)",
                   "edm", torch.float32, 64, as_sampler_model(denoiser), features, stats, "the 1797 real digits",
                   data_floor=floor)


def labelled_problem(param: str, scale: float, n: int) -> Problem:
    from .labelled import load_labelled
    m = load_labelled(param)
    classifier, features, stats, floor = _digits_features()
    labels = torch.arange(n) % 10  # every class equally often, as in the data (within 4 %)

    def accuracy(x: torch.Tensor) -> float:
        with torch.no_grad():
            return class_accuracy(classifier(x.float().clamp(-1, 1)), labels)
    kind = "EDM" if param == "edm" else "rectified flow, shifted schedule (shift 3)"
    return Problem(f"{param}_cfg{scale:g}", f"Class-conditional digits, {kind}, guidance scale {scale:g}",
                   param, torch.float32, 64, m.guided(labels, scale), features, stats, "the 1797 real digits",
                   accuracy, data_floor=floor)


def _photo_features():
    from .photo import load_photo_classifier, load_photo_data
    classifier = load_photo_classifier()
    real = load_photo_data()

    def features(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return classifier.features(x.float().clamp(-1, 1)).double().numpy()

    def floor(k: int, seed: int) -> np.ndarray:  # a bootstrap resample of the 2000 photo images
        idx = torch.randint(0, real.shape[0], (k,), generator=torch.Generator().manual_seed(seed))
        return features(real[idx])
    return classifier, features, gaussian_stats(features(real)), floor


def photo_problem(param: str, scale: float, n: int) -> Problem:
    """The held-out photograph models (bench.models.photo): like labelled_problem, with the photo
    source classifier's features and accuracy."""
    from .photo import load_photo
    m = load_photo(param)
    classifier, features, stats, floor = _photo_features()
    labels = torch.arange(n) % 10  # every class equally often, as in the data

    def accuracy(x: torch.Tensor) -> float:
        with torch.no_grad():
            return class_accuracy(classifier(x.float().clamp(-1, 1)), labels)
    kind = "EDM" if param == "edm" else "rectified flow, shifted schedule (shift 3)"
    return Problem(("photo" if param == "edm" else "flow_photo") + f"_cfg{scale:g}",
                   f"Held out: class-conditional 8x8 photograph patches and faces, {kind}, guidance scale {scale:g}",
                   param, torch.float32, 64, m.guided(labels, scale), features, stats,
                   "the 2000 photograph patches and faces", accuracy, data_floor=floor)


GUIDED_MIXTURE = {"dim": 8, "classes": 4, "per_class": 3, "std": 0.3, "seed": 4321}


class GuidedMixture:
    """Classifier-free guidance of an exact class-conditional Gaussian mixture: D_u + scale (D_c - D_u),
    D_c the mixture of the item's class, D_u of every class (float64; one call is one NFE).
    space "flow": the same data on the rectified-flow path (x = (1 - s) x0 + s n, the VE latent
    x / (1 - s) at lambda = s / (1 - s))."""

    def __init__(self, means: torch.Tensor, std: float, labels: torch.Tensor, scale: float, space: str):
        from k_diffusion_ext.analytic import mixture_denoiser
        per_class = GUIDED_MIXTURE["per_class"]
        self.uncond = mixture_denoiser(means, std)
        self.cond = [mixture_denoiser(means[c * per_class:(c + 1) * per_class], std)
                     for c in range(means.shape[0] // per_class)]
        self.labels, self.scale, self.space = labels, float(scale), space

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **_: object) -> torch.Tensor:
        n = x.shape[0]
        s = sigma.reshape(-1).to(torch.float64).expand(n) if sigma.numel() in (1, n) else sigma
        y, lam = (x.double(), s) if self.space == "edm" else (x.double() / (1 - s)[:, None], s / (1 - s))
        labels = self.labels[:n] if self.labels.numel() >= n else torch.arange(n) % len(self.cond)
        du = self.uncond(y, lam)
        dc = torch.empty_like(du)
        for c, den in enumerate(self.cond):
            idx = labels == c
            if idx.any():
                dc[idx] = den(y[idx], lam[idx])
        return (du + self.scale * (dc - du)).to(x.dtype)


def guided_mixture_problem(space: str, scale: float, n: int) -> Problem:
    g = torch.Generator().manual_seed(GUIDED_MIXTURE["seed"])
    k = GUIDED_MIXTURE["classes"] * GUIDED_MIXTURE["per_class"]
    means = 2.0 * torch.randn(k, GUIDED_MIXTURE["dim"], generator=g, dtype=torch.float64)
    std = GUIDED_MIXTURE["std"]
    labels = torch.arange(n) % GUIDED_MIXTURE["classes"]
    mu = means.mean(0)
    centered = means - mu
    cov = std * std * torch.eye(GUIDED_MIXTURE["dim"], dtype=torch.float64) + centered.T @ centered / k
    name = ("gmix" if space == "edm" else "flow_gmix") + f"_cfg{scale:g}"
    return Problem(name, f"Exact class-conditional Gaussian mixture ({GUIDED_MIXTURE['dim']}-D, "
                   f"{GUIDED_MIXTURE['classes']} classes of {GUIDED_MIXTURE['per_class']} components, std {std}), "
                   f"{'EDM' if space == 'edm' else 'rectified flow'}, guidance scale {scale:g}", space, torch.float64,
                   GUIDED_MIXTURE["dim"], GuidedMixture(means, std, labels, scale, space), lambda x: x.double().numpy(),
                   (mu.numpy(), cov.numpy()), "the unconditional mixture's exact moments")


# name -> (builder(n), samples per seed in the full run); the order is the report's
BENCHMARKS: dict[str, Callable[[int], Problem]] = {
    "mixture": mixture_problem,
    "digits": digits_problem,
    "edm_cfg1": lambda n: labelled_problem("edm", 1.0, n),
    "edm_cfg3": lambda n: labelled_problem("edm", 3.0, n),
    "edm_cfg6": lambda n: labelled_problem("edm", 6.0, n),
    "flow_cfg1": lambda n: labelled_problem("flow", 1.0, n),
    "flow_cfg3": lambda n: labelled_problem("flow", 3.0, n),
    # held out (bench.models.photo): addressable by name, never in a default list, never fitted on
    "photo_cfg1": lambda n: photo_problem("edm", 1.0, n),
    "photo_cfg3": lambda n: photo_problem("edm", 3.0, n),
    "flow_photo_cfg1": lambda n: photo_problem("flow", 1.0, n),
    "flow_photo_cfg3": lambda n: photo_problem("flow", 3.0, n),
}
HELD_OUT = ("photo_cfg1", "photo_cfg3", "flow_photo_cfg1", "flow_photo_cfg3")
FITTED = tuple(b for b in BENCHMARKS if b not in HELD_OUT)  # the default model list of the benchmarks
