"""Real photographs for the benchmarks, held out: class-conditional denoisers (EDM and rectified
flow, label dropout for classifier-free guidance) of 8 x 8 grayscale photograph patches, and a
source classifier whose 64 penultimate features give a "photo FID".

Held out: no setting of the project (the guidance-aware policy, limits, defaults) was or may be
fitted on these models; bench reports them beside the fitted families (the digits models, the
exact mixtures) as a check on statistics nothing was tuned to.

Data (no download: only files that ship inside the scikit-image and scikit-learn wheels; see
PHOTO_SOURCES for each class's origin and licence as the package states it): ten classes of
200 images of 8 x 8 pixels, grayscale (ITU-R 601 luma), scaled to [-1, 1]:

    0 face        the 100 LFW faces of skimage.data.lfw_subset(), 25 x 25 -> 8 x 8, and their mirror images
    1 background  the 100 LFW non-faces (backgrounds of the same photographs), likewise
    2-9           200 patches each of astronaut, camera, chelsea, coffee, rocket, hubble_deep_field
                  (skimage.data) and china, flower (sklearn.datasets.load_sample_images), each
                  photograph 4 x 4 mean-pooled first, so a patch spans 32 x 32 of its pixels

Patch positions come from a fixed seed: the same package files give the same 2000 x 64 data.
The committed weights were trained on the files of scikit-image 0.26.0 and scikit-learn 1.9.1
(their versions and a checksum of the data are in each weight file's "trained" entry; a test
checks that the installed packages still give that data). Every file used ships in those wheels
(skimage/data/*.png, *.jpg, lfw_subset.npy; sklearn/datasets/images/*.jpg): nothing is fetched.
The models share the digits models' net and loading code (bench.models.labelled, same weight
format: {"net", "config", "p_uncond", "trained"}); only the weights and the data differ:

    from bench.models.photo import load_photo
    m = load_photo("edm")          # or "flow"; a bench.models.labelled.LabelledModel
    g = m.guided(torch.arange(n) % 10, 3.0)

Weights: bench/models/weights/photo_{edm,flow}.pt and photo_classifier.pt, written by
`python -m bench.models.train_photo` (deterministic, a few minutes on one core). Loading them
needs only torch; load_photo_data() needs scikit-image and scikit-learn (the bench extra).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .digits import DIM, DigitsClassifier
from .labelled import PARAMS, LabelledModel, load_labelled

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CLASSIFIER = WEIGHTS_DIR / "photo_classifier.pt"
SIDE = 8
assert SIDE * SIDE == DIM
PER_CLASS = 200
POOL = 4          # mean pooling of the photographs before cutting patches
PATCH_SEED = 2028
CLASSES = ("face", "background", "astronaut", "camera", "chelsea", "coffee", "rocket", "hubble_deep_field",
           "china", "flower")

# where each class comes from and its licence, as the shipping package states it
PHOTO_SOURCES = {
    "face": "skimage.data.lfw_subset() (images 0-99): Labeled Faces in the Wild (Huang et al.), crops resized to "
            "25 x 25 by scikit-image; no licence stated beyond the LFW citation",
    "background": "skimage.data.lfw_subset() (images 100-199): backgrounds of the same LFW photographs; likewise",
    "astronaut": "skimage.data.astronaut(): NASA, Eileen Collins; public domain",
    "camera": "skimage.data.camera(): Lav Varshney; CC0",
    "chelsea": "skimage.data.chelsea(): Stefan van der Walt; CC0",
    "coffee": "skimage.data.coffee(): Rachel Michetti; CC0",
    "rocket": "skimage.data.rocket(): SpaceX; public domain",
    "hubble_deep_field": "skimage.data.hubble_deep_field(): NASA/HubbleSite; public domain",
    "china": "sklearn.datasets.load_sample_images() china.jpg: danielbuechele (Flickr); CC BY 2.0",
    "flower": "sklearn.datasets.load_sample_images() flower.jpg: vultilion (Flickr); CC BY 2.0",
}


def weights_path(param: str) -> Path:
    if param not in PARAMS:
        raise ValueError(f"param must be one of {PARAMS}, got {param!r}")
    return WEIGHTS_DIR / f"photo_{param}.pt"


def _luma(image) -> torch.Tensor:
    """uint8 H x W (x 3) -> float64 H x W in [0, 1] (ITU-R 601 weights for colour)."""
    t = torch.tensor(image, dtype=torch.float64) / 255.0  # a copy: the package arrays are read-only
    if t.ndim == 3:
        t = t[..., :3] @ torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)
    return t


def _patches(gray: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    h, w = (gray.shape[0] // POOL) * POOL, (gray.shape[1] // POOL) * POOL
    pooled = torch.nn.functional.avg_pool2d(gray[None, None, :h, :w], POOL)[0, 0]
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, pooled.shape[0] - SIDE + 1, (count,), generator=g)
    cols = torch.randint(0, pooled.shape[1] - SIDE + 1, (count,), generator=g)
    return torch.stack([pooled[r:r + SIDE, c:c + SIDE].reshape(-1) for r, c in zip(rows.tolist(), cols.tolist())])


def _small(images: torch.Tensor) -> torch.Tensor:
    """N x 25 x 25 in [0, 1] -> 2N x 64: 8 x 8 area averages, then the mirror images."""
    small = torch.nn.functional.adaptive_avg_pool2d(images[:, None], SIDE)[:, 0]
    return torch.cat([small, small.flip(-1)]).reshape(-1, DIM)


def _load() -> tuple[torch.Tensor, torch.Tensor]:
    import skimage.data
    from sklearn.datasets import load_sample_images
    lfw = torch.as_tensor(skimage.data.lfw_subset(), dtype=torch.float64)
    sample = dict(zip((Path(f).stem for f in load_sample_images().filenames), load_sample_images().images))
    photos = {"astronaut": skimage.data.astronaut(), "camera": skimage.data.camera(),
              "chelsea": skimage.data.chelsea(), "coffee": skimage.data.coffee(), "rocket": skimage.data.rocket(),
              "hubble_deep_field": skimage.data.hubble_deep_field(), "china": sample["china"],
              "flower": sample["flower"]}
    parts = [_small(lfw[:100]), _small(lfw[100:])]
    parts += [_patches(_luma(photos[name]), PER_CLASS, PATCH_SEED + k) for k, name in enumerate(CLASSES[2:])]
    assert all(p.shape == (PER_CLASS, DIM) for p in parts)
    data = torch.cat(parts) * 2 - 1
    labels = torch.arange(len(CLASSES)).repeat_interleave(PER_CLASS)
    return data, labels


def load_photo_data(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 2000 x 64 photograph data in [-1, 1], class by class (200 each, CLASSES' order)."""
    return _load()[0].to(dtype)


def load_photo_labels() -> torch.Tensor:
    return torch.arange(len(CLASSES)).repeat_interleave(PER_CLASS)


def load_photo(param: str = "edm", path: Path | str | None = None) -> LabelledModel:
    """The committed class-conditional photo denoiser (eval mode, no gradients)."""
    return load_labelled(param, path or weights_path(param))


def load_photo_classifier(path: Path | str = CLASSIFIER) -> DigitsClassifier:
    """The source classifier (64 -> 256 -> 64 -> 10 MLP, the digits classifier's architecture)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    classifier = DigitsClassifier(**state["classifier_config"])
    classifier.load_state_dict(state["classifier"])
    return classifier.eval().requires_grad_(False)
