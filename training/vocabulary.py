"""Keep in a checkpoint's tokenizer only the pieces English news and its MT artifacts use.

    python -m training.vocabulary runs/recipe [--config configs/recipe.yaml]

The base tokenizer has 250k pieces for a hundred languages; the train split (its documents, as
`Predictor` normalizes them, and its MT segments) uses about 30k. Those are kept, with every
single-character piece so that any text can still be cut. Only the train split: validation,
test and the out-of-distribution set then measure what the pruning does to text it never saw. Loading the tokenizer then takes a
fifth of the time and memory, and the word embeddings the checkpoint needs shrink alike.
`training.train` runs this after training.
"""
from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from model import checkpoint
from model.normalize import normalize
from training.config import TrainConfig, command_parser
from training.corpus import load_spans, load_splits, split_of


def pieces_in_use(tokenizer, texts, chunk: int = 1000) -> set[str]:
    vocab = tokenizer.backend.get_vocab()
    single = {piece for piece in vocab if len(piece.replace("▁", "")) <= 1}
    used = set()
    for i in tqdm(range(0, len(texts), chunk), desc="pieces", unit="chunk"):
        for enc in tokenizer.backend.encode_batch(texts[i : i + chunk], add_special_tokens=False):
            used.update(enc.tokens)
    return used | single


def prune(ckpt: str | Path, cfg: TrainConfig) -> None:
    started = time.time()
    spans = load_spans(cfg.corpus)
    texts = [normalize(t).text for t in load_splits(cfg)["train"]["text"]]
    texts += [r["text"] for r in spans if split_of(r["group"], cfg.split, cfg.seed) == "train"] if spans else []
    keep = pieces_in_use(checkpoint.load_tokenizer(ckpt), texts)
    checkpoint.prune_tokenizer(ckpt, keep, {"stage": "vocabulary", "rule": "pieces of the train split's documents and "
                               "MT segments, and every single character", "seconds": round(time.time() - started)})


def main(argv=None) -> None:
    args = command_parser(__doc__.splitlines()[0]).parse_args(argv)
    prune(args.checkpoint, TrainConfig.from_yaml(args.config, args.overrides))
    print(f"{args.checkpoint}: {checkpoint.read_settings(args.checkpoint)['lineage'][-1]['pieces']} pieces kept")


if __name__ == "__main__":
    main()
