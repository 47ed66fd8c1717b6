"""Train the held-out photograph models: the source classifier and the class-conditional EDM and
rectified-flow denoisers of bench.models.photo's 8 x 8 photograph patches.

    python -m bench.models.train_photo [--params classifier,edm,flow] [--steps 12000] [--out-dir DIR]

The digits models' recipes, unchanged (bench.models.train_digits.train_classifier: 1500 items to
train, the other 500 for the printed held-out accuracy; bench.models.train_labelled.train: EDM
or rectified-flow training with 10 % label dropout and an EMA of the weights) on the photo data,
with a smaller net (hidden width 128) so the weights stay a few hundred KB. One torch thread and
fixed seeds: the same command gives the same weights on the same torch build and package files.
Needs scikit-image and scikit-learn (the bench extra).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from .photo import CLASSIFIER, load_photo_data, load_photo_labels, weights_path
from .train_digits import train_classifier
from .train_labelled import P_UNCOND, train

HIDDEN = 128


def provenance(data: torch.Tensor) -> dict:
    """The package versions and a checksum of the data the weights were trained on (a test checks
    that today's packages give the same data)."""
    import skimage
    import sklearn
    return {"torch": str(torch.__version__), "scikit-image": skimage.__version__, "scikit-learn": sklearn.__version__,
            "data_sum": float(data.double().sum()), "data_sq_sum": float((data.double() ** 2).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="classifier,edm,flow")
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=None, help="folder for the weight files (default bench/models/weights)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data, labels = load_photo_data(), load_photo_labels()
    print(f"photo data {tuple(data.shape)}, std {data.std():.4f}")
    for part in args.params.split(","):
        started = time.perf_counter()
        if part == "classifier":
            net = train_classifier(data, labels, 3000, args.seed)
            state = {"classifier": net.state_dict(), "classifier_config": {},
                     "trained": {"steps": 3000, "seed": args.seed, **provenance(data)}}
            out = Path(args.out_dir) / CLASSIFIER.name if args.out_dir else CLASSIFIER
        else:
            net, config = train(part, args.steps, args.batch, args.seed, data, labels, hidden=HIDDEN)
            state = {"net": net.state_dict(), "config": config, "p_uncond": P_UNCOND,
                     "trained": {"steps": args.steps, "batch": args.batch, "seed": args.seed, **provenance(data)}}
            out = Path(args.out_dir) / weights_path(part).name if args.out_dir else weights_path(part)
        torch.save(state, out)
        print(f"wrote {out} ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
