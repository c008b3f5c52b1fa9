"""Train a checkpoint's artifact head alone, on its frozen encoder (issue 21), and choose its threshold.

    python -m training.artifact_head runs/recipe [--config configs/recipe.yaml] [--set artifact_hidden=0 ...]
    python -m training.artifact_head runs/copy-of-a-checkpoint --keep-head   # the same figures for its own head
    python -m training.artifact_head runs/copy --keep-head --set word_mt_budget=0.001   # a word-mt head beside it

The head trained with the rest of the network reads the last layer, which the document labels
shape: its scores hardly differ between the words of one document. This one reads middle layers
(`artifact_layers`), where a word that does not belong still shows, through a hidden layer, and
learns from windows of the sources named in `artifact_sources`:
- "human": human-written text (human translations included), no artifacts;
- "synthetic": English-original text with words swapped for wrong ones (training/synthetic.py),
  labelled exactly;
- "word-mt": the same, the words swapped for what they become translated alone, there and back
  ("advice" -> "councils"; training/synthetic.py);
- "round-trip": round-trip MT, the words that differ from the original;
- "mqm": WMT MT segments with human MQM error spans; "mqm-major": the same segments with only their
  major errors as artifacts (a minor error's words count as correct).
The encoder and the document heads are untouched, so labels and sentence verdicts do not change.
The threshold is chosen by the yardstick's rule (`training.yardstick.fit_artifact_threshold`: at
most one flagged word in 300 of human-written validation text, human translations included,
sampled per cell), and the figures at it, per source on validation, go into the stage's entry in
the checkpoint's lineage.

With `word_mt_budget`, a second head learns "word-mt" alone (with "human"), beside the first: in
one head, that source took the precision on MT and MQM errors (docs/experiments/artifact-head.md).
Its bias is moved so that, at the first head's own threshold, it flags `word_mt_budget` of
human-written words; a token's score is the higher of the two (model.network).
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from model import checkpoint, network
from model.artifacts import word_scores
from model.predictor import Predictor
from model.text import batch_arrays, encode_document, split_sentences
from training.config import TrainConfig, command_parser
from training.corpus import labelled_regions, load_spans, load_splits, split_of, token_labels
from training.evaluate import predicted_spans
from training.metrics import word_prf
from training.synthetic import mistranslate_words, replace_words
from training.yardstick import fit_artifact_threshold, per_cell_sample

SOURCES = ("human", "synthetic", "round-trip", "mqm", "mqm-major", "word-mt")  # new ones last: the same validation texts for the others
VALIDATION_TEXTS = 150  # per source but "human": the figures
PER_CELL = 15  # human-written validation text for the threshold: at most this many documents a cell


def source_texts(source: str, split: str, splits, spans, n: int, cfg: TrainConfig, rng: random.Random):
    """`n` (text, artifact spans) pairs of one source from one split."""
    docs = splits[split]
    if source.startswith("mqm"):
        rows = [r for r in spans or [] if not r["is_reference"] and split_of(r["group"], cfg.split, cfg.seed) == split]
        rows = rows[: cfg.max_docs or None]  # a smoke run's cut of the corpus cuts these too
        return [(r["text"], [tuple(s) for s, major in zip(r["spans"], r["major"])
                             if s[1] > s[0] and (major or source == "mqm")]) for r in rng.sample(rows, min(n, len(rows)))]
    if source == "human":  # human translations too: the budget counts their words
        rows = [i for i, label in enumerate(docs["label"]) if label == "original"]
    else:
        kind = "mt-roundtrip" if source == "round-trip" else "human"
        rows = [i for i, k in enumerate(docs["kind"]) if k == kind]
    chosen = [docs[i] for i in rng.sample(rows, min(n, len(rows)))]
    if source == "round-trip":
        return [(row["text"], labelled_regions(row)[0]) for row in chosen]
    if source == "synthetic":
        return [replace_words(row["text"], rng, cfg.synthetic_rate) for row in chosen]
    if source == "word-mt":
        return [mistranslate_words(row["text"], rng, cfg.synthetic_rate) for row in chosen]
    return [(row["text"], []) for row in chosen]


def budget_texts(validation, cfg: TrainConfig) -> list[tuple]:
    """The human-written validation text the threshold is chosen on, sampled as the yardstick
    samples it: at most PER_CELL documents of each cell, human translations included."""
    return [(row["text"], []) for row in per_cell_sample(validation, PER_CELL, cfg.seed)[0] if row["label"] == "original"]


def token_examples(texts, tokenizer, cfg: TrainConfig, rng: random.Random) -> list[tuple]:
    """One random window of each text, with its tokens' labels."""
    out = []
    for text, artifacts in texts:
        window = rng.choice(encode_document(tokenizer, text, split_sentences(text), cfg.max_length, cfg.stride))
        out.append((window, token_labels(window.token_spans, artifacts, True)))
    return out


@torch.inference_mode()
def features(model: network.TelltaleModel, windows, layers, pad_id: int, batch_size: int = 32) -> np.ndarray:
    """The token head's inputs for every content token of `windows`, in order."""
    out = []
    for b in range(0, len(windows), batch_size):
        chunk = windows[b : b + batch_size]
        ids, mask, _ = (torch.from_numpy(a) for a in batch_arrays(chunk, pad_id))
        states = model.encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
        found = network.artifact_features(states, layers)
        out += [found[r, 1 : len(w.token_spans) + 1].numpy() for r, w in enumerate(chunk)]
    return np.concatenate(out)


def fit_head(x: np.ndarray, y: np.ndarray, hidden: int, seed: int, epochs: int = 6) -> torch.nn.Module:
    """A token head fitted to `x` -> `y`; the features' standardisation is folded into its first layer."""
    torch.manual_seed(seed)
    x, y = torch.from_numpy(x).float(), torch.from_numpy(y).long()
    mean, std = x.mean(0), x.std(0) + 1e-4
    head = network.token_head(x.shape[1], hidden)
    first = head if isinstance(head, torch.nn.Linear) else head[0]
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=0.01)
    weight = torch.tensor([1.0, float((y == 0).sum() / max(int((y == 1).sum()), 1)) ** 0.5])
    for _ in range(epochs):
        for batch in torch.randperm(len(y)).split(512):
            loss = F.cross_entropy(head(F.dropout((x[batch] - mean) / std, 0.1)), y[batch], weight=weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        first.bias -= first.weight @ (mean / std)
        first.weight /= std
    return head.eval()


def validation_figures(predictor: Predictor, sets: dict) -> dict:
    """Word-level figures at the predictor's threshold, per source, beside flagging every word."""
    out = {}
    for source, (texts, runs) in sets.items():
        predicted = [predicted_spans(predictor.assemble(run, want_sentences=False)) for run in runs]
        figures = word_prf([spans for _, spans in texts], predicted, [text for text, _ in texts])
        out[source] = ({"words_flagged": figures["predicted_words"] / max(figures["words"], 1)} if source == "human" else
                       {k: round(figures[k], 4) for k in ("precision", "recall", "f1", "every_word_f1")})
    return out


def add_artifact_head(ckpt: str | Path, cfg: TrainConfig, log=print, train: bool = True) -> dict:
    """Train the head into `ckpt` (with `train` False, keep the head it has), then choose its threshold."""
    started = time.time()
    unknown = set(cfg.artifact_sources) - set(SOURCES)
    if unknown:
        raise SystemExit(f"artifact_sources: unknown {sorted(unknown)}; choose from {list(SOURCES)}")
    splits, spans = load_splits(cfg), load_spans(cfg.corpus)
    name = "artifact_head" if train else "word_mt_head" if cfg.word_mt_budget else "artifact_threshold"
    stage = {"stage": name, "config": cfg.to_dict()}
    if train:
        stage.update(train_head(ckpt, cfg, splits, spans, log, cfg.artifact_sources))
    if cfg.word_mt_budget:
        stage.update(train_head(ckpt, cfg, splits, spans, log, ("human", "word-mt"), "word_mt_head"))
    predictor = Predictor.load(ckpt, backend="torch")
    human = budget_texts(splits["validation"], cfg)
    human_rows = [{"label": "original"}] * len(human)
    if cfg.word_mt_budget:
        stage["word_mt_bias_shift"] = share_threshold(predictor, [text for text, _ in human], human_rows,
                                                      cfg.word_mt_budget)
        weights = checkpoint.read_weights(ckpt)
        weights.update({f"word_mt_head.{k}": v for k, v in predictor.network.model.word_mt_head.state_dict().items()})
        checkpoint.write_weights(ckpt, weights, {})
    rng = random.Random(cfg.seed + 1)  # the same validation texts whatever the training sources
    sets = {}
    for source in SOURCES:
        texts = human if source == "human" else source_texts(source, "validation", splits, spans, VALIDATION_TEXTS,
                                                             cfg, rng)
        sets[source] = (texts, predictor.run([text for text, _ in texts]))
    predictor.calibration = predictor.calibration.replace(
        artifact_threshold=fit_artifact_threshold(sets["human"][1], human_rows))
    stage.update(threshold=predictor.calibration.artifact_threshold, validation=validation_figures(predictor, sets),
                 seconds=round(time.time() - started))
    checkpoint.write_calibration(ckpt, predictor.calibration, stage)
    log(json.dumps(stage["validation"]))
    return stage


def share_threshold(predictor: Predictor, human: list[str], rows: list[dict], share: float) -> float:
    """Move the word-mt head's artifact bias (in place) so that, at the token head's own threshold,
    it alone flags at most `share` of the words of `human`; returns the shift."""
    model = predictor.network.model
    word_mt, token = model.word_mt_head, model.token_head
    try:
        model.word_mt_head = None
        shared = fit_artifact_threshold(predictor.run(human), rows)
        model.token_head = word_mt
        scores = [s for run in predictor.run(human) for _, _, s in word_scores(run.token_scores(), run.norm.text)]
    finally:
        model.word_mt_head, model.token_head = word_mt, token
    # its own threshold exactly, not on the budget rule's 0.01 grid: this head's scores crowd near 1
    own = float(np.clip(np.quantile(scores, 1 - share), 1e-6, 1 - 1e-6))
    shift = float(np.log(shared / (1 - shared)) - np.log(own / (1 - own)))
    last = word_mt if isinstance(word_mt, torch.nn.Linear) else word_mt[-1]
    with torch.no_grad():
        last.bias[1] += shift
    return round(shift, 4)


def train_head(ckpt, cfg: TrainConfig, splits, spans, log, sources, name: str = "token_head") -> dict:
    """Fit a new head `name` on the frozen encoder of `ckpt` from `sources` and write it in;
    returns its layout."""
    rng = random.Random(cfg.seed)
    model, tokenizer = network.load(ckpt), checkpoint.load_tokenizer(ckpt)
    examples = []
    for source in sources:
        examples += token_examples(source_texts(source, "train", splits, spans, cfg.artifact_windows, cfg, rng),
                                   tokenizer, cfg, rng)
    started = time.time()
    layers = cfg.artifact_layers if name == "token_head" else model.artifact_layers  # a word-mt head reads the first's
    x = features(model, [w for w, _ in examples], layers, tokenizer.pad_token_id)
    y = np.array([label for _, labels in examples for label in labels])
    log(f"{name}: {len(examples)} windows, {len(y)} tokens ({y.mean():.1%} artifacts), "
        f"features in {time.time() - started:.0f}s")
    head = fit_head(x, y, cfg.artifact_hidden, cfg.seed)
    weights = {k: v for k, v in checkpoint.read_weights(ckpt).items() if not k.startswith(f"{name}.")}
    weights.update({f"{name}.{k}": v for k, v in head.state_dict().items()})
    layout = {**checkpoint.read_settings(ckpt).get("artifact_head", {}), "layers": list(layers)}
    layout["word_mt_hidden" if name == "word_mt_head" else "hidden"] = cfg.artifact_hidden
    if name == "token_head":  # a new first head is not the one a word-mt head was set beside
        layout.pop("word_mt_hidden", None)
        weights = {k: v for k, v in weights.items() if not k.startswith("word_mt_head.")}
    checkpoint.write_weights(ckpt, weights, {"artifact_head": layout})
    return layout


def main(argv=None) -> None:
    parser = command_parser(__doc__.splitlines()[0])
    parser.add_argument("--keep-head", action="store_true",
                        help="train nothing: choose the threshold of the checkpoint's own head and score it")
    args = parser.parse_args(argv)
    stage = add_artifact_head(args.checkpoint, TrainConfig.from_yaml(args.config, args.overrides), train=not args.keep_head)
    print(f"{args.checkpoint}: artifact threshold {stage['threshold']} ({stage['seconds']}s)")


if __name__ == "__main__":
    main()
