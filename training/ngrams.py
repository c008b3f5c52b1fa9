"""Fit a checkpoint's character n-gram model on the train split, beside its transformer.

    python -m training.ngrams runs/recipe [--config configs/recipe.yaml]

`training.train` runs this after training; run it alone to refit a checkpoint's. Every training
document is seen twice, as written and with its punctuation stripped, so that stripping it (an
evasion) moves the n-grams less. Then `training.yardstick --fit` chooses the weight of the
n-grams in the verdict.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

from model import checkpoint
from model.labels import LABEL2ID
from model.ngrams import CharNgrams
from training.config import TrainConfig, command_parser
from training.corpus import load_splits
from training.perturb import AUGMENTATIONS, perturb


def fit_ngrams(train_rows, seed: int) -> CharNgrams:
    rng = random.Random(seed)
    texts, labels = [], []
    for row in train_rows:
        stripped, _ = perturb(row["text"], AUGMENTATIONS["stripped punctuation"], rng)
        texts += [row["text"], stripped]
        labels += [LABEL2ID[row["label"]]] * 2
    return CharNgrams.fit(texts, labels)


def add_ngrams(ckpt: str | Path, cfg: TrainConfig) -> None:
    started = time.time()
    ngrams = fit_ngrams(load_splits(cfg)["train"], cfg.seed)
    checkpoint.write_ngrams(ckpt, ngrams.arrays(), {"stage": "ngrams", "seconds": round(time.time() - started)})


def main(argv=None) -> None:
    args = command_parser(__doc__.splitlines()[0]).parse_args(argv)
    started = time.time()
    add_ngrams(args.checkpoint, TrainConfig.from_yaml(args.config, args.overrides))
    print(f"character n-grams fitted into {args.checkpoint} in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
