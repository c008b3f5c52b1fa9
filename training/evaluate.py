"""The detailed test-split report of a calibrated checkpoint: report.json, report.md and plots.

    python -m training.evaluate runs/recipe [--config configs/recipe.yaml] [--max-docs N]

It measures everything the Predictor outputs (documents, sentences, artifacts, the `uncertain`
band, length, perturbations) with the checkpoint's own calibration, which training/yardstick.py
chose; beside a baseline, the n-gram model alone (model/ngrams.py) fitted on the clean train split.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from model.calibration import UNCERTAIN, Calibration
from model.labels import LABEL2ID, LABELS, ORIGINAL
from model.ngrams import CharNgrams
from model.predictor import Predictor
from model.text import split_sentences
from training.config import TrainConfig, command_parser
from training.corpus import labelled_regions, load_spans, load_splits, span_index_of, split_of
from training.metrics import (share, band_figures, top_label, char_prf, classification_metrics, expected_calibration_error,
                              grouped_recall, human_fpr, paired_drop)
from training.perturb import PERTURBATIONS, perturb
from training.render import markdown_report, plot_length, plot_reliability

MODEL_KINDS = ("mistranslation", "untranslated")  # artifact spans that are predictions, not normalisation findings
LENGTH_BUCKETS = ("1 sentence", "2-3 sentences", "~50 words", "~100 words", "~300 words", "500+ words")


def predicted_spans(prediction) -> list[tuple[int, int]]:
    """A prediction's artifact spans that the model or the untranslated-word rule found (the
    normalisation's findings left out): what the span figures score."""
    return [(a.start, a.end) for a in prediction.artifacts if a.kind in MODEL_KINDS]


# --- samples of the test split -------------------------------------------------


def perturbed_copies(rows, indices, attacks, seed: int) -> list[str]:
    """`attacks` applied to the text of rows[i] for each i in `indices`, with its own seed (seed + i),
    so a document gets the same copy in the report's sample and in scripts/perturbed_accuracy.py."""
    return [perturb(rows[i]["text"], attacks, random.Random(seed + i))[0] for i in indices]


def truncate(text: str, bucket: str) -> str | None:
    """`text` cut to a length bucket, or None when it is too short for it."""
    spans = split_sentences(text)
    words = text.split()
    if bucket == "1 sentence":
        return text[slice(*spans[0])] if spans else None
    if bucket == "2-3 sentences":
        return text[spans[0][0] : spans[min(2, len(spans) - 1)][1]] if len(spans) >= 2 else None
    if bucket == "500+ words":
        return text if len(words) >= 500 else None
    n = int(bucket.strip("~ words"))
    if len(words) < n:
        return None
    # cut at the sentence end nearest to n words
    ends = [e for _, e in spans if len(text[:e].split()) >= n]
    return text[: ends[0]] if ends else text


def accuracy_by_length(predictor, rows, per_bucket: int, seed: int) -> dict:
    rng = random.Random(seed)
    out = {}
    for bucket in LENGTH_BUCKETS:
        cut = [(truncate(r["text"], bucket), r) for r in rows]
        cut = [(t, r) for t, r in cut if t]
        cut = rng.sample(cut, min(per_bucket, len(cut)))
        if not cut:
            continue
        preds = predictor.predict([t for t, _ in cut], sentences=False, artifacts=False, threshold=0.0)
        gold = [LABEL2ID[r["label"]] for _, r in cut]
        pred = [top_label(p) for p in preds]
        words = [len(t.split()) for t, _ in cut]
        out[bucket] = {"n": len(cut), "median_words": int(np.median(words)),
                       "accuracy": float(np.mean(np.array(gold) == np.array(pred))),
                       "macro_f1": float(f1_score(gold, pred, average="macro", labels=range(len(LABELS)), zero_division=0)),
                       "human_fpr": human_fpr([r for _, r in cut], pred)["all"]["fpr"]}
    return out


def choose_min_words(by_length: dict) -> int:
    """The shortest bucket whose accuracy is within 10 points of full-length documents."""
    full = max(v["accuracy"] for v in by_length.values())
    for bucket in LENGTH_BUCKETS:
        if bucket in by_length and by_length[bucket]["accuracy"] >= full - 0.10:
            return by_length[bucket]["median_words"]
    return 100


# --- baseline -------------------------------------------------------------------


def baseline(train_rows, test_rows) -> tuple[list[int], dict]:
    started = time.time()
    model = CharNgrams.fit([r["text"] for r in train_rows], [LABEL2ID[r["label"]] for r in train_rows])
    pred = model.probabilities([r["text"] for r in test_rows]).argmax(1).tolist()
    return pred, {"seconds": round(time.time() - started), "train_docs": len(train_rows)}


# --- the whole evaluation -------------------------------------------------------


def probabilities(predictor: Predictor, runs, calibration: Calibration | None = None) -> np.ndarray:
    """[documents, labels]: each run's calibrated probabilities (under `calibration`, if given)."""
    return np.stack([predictor.document_probabilities(r, calibration) for r in runs])


def evaluate_checkpoint(ckpt: str | Path, cfg: TrainConfig, max_docs: int = 0, perturbed_docs: int = 600,
                        batch_size: int | None = None) -> dict:
    ckpt = Path(ckpt)
    started = time.time()
    splits = load_splits(cfg)
    rng = random.Random(cfg.seed)

    def sample(ds, n, rng=rng):
        rows = list(ds)
        return rng.sample(rows, n) if n and n < len(rows) else rows

    predictor = Predictor.load(ckpt)
    calibration = predictor.calibration
    log = lambda msg: print(f"[{time.time() - started:5.0f}s] {msg}", flush=True)

    # 1. test documents
    test_rows = sample(splits["test"], max_docs)
    runs = predictor.run([r["text"] for r in test_rows], batch_size)
    gold = [LABEL2ID[r["label"]] for r in test_rows]
    uncalibrated = calibration.replace(temperature=1.0, label_prior=(1.0,) * len(LABELS))
    raw = probabilities(predictor, runs, uncalibrated)
    probs = probabilities(predictor, runs)
    pred = probs.argmax(1).tolist()
    transformer_alone = probabilities(predictor, runs, calibration.replace(ngram_weight=0.0)).argmax(1).tolist()
    predictions = [predictor.assemble(r) for r in runs]
    log(f"test: {len(test_rows)} documents")

    ece_before, _ = expected_calibration_error(raw, np.array(gold))
    ece_after, reliability = expected_calibration_error(probs, np.array(gold))
    is_definite = [p.label != UNCERTAIN for p in predictions]
    definite = [i for i, d in enumerate(is_definite) if d]
    definite_set = set(definite)
    band_pred = [pred[i] for i in definite]
    report = {
        "checkpoint": str(ckpt),
        "training": next((st for st in reversed(predictor.settings["lineage"]) if st["stage"] == "train"), {}),
        "calibration": {"temperature": calibration.temperature, "label_prior": list(calibration.label_prior),
                        "ece_before": ece_before, "ece_after": ece_after, "reliability": reliability},
        "documents": classification_metrics(gold, pred),
        "ngram_weight": calibration.ngram_weight,
        "documents_transformer_alone": classification_metrics(gold, transformer_alone),
        "human_false_positive_rate": human_fpr(test_rows, pred),
        "recall_by_source": grouped_recall(test_rows, gold, pred, lambda r: f"{r['label']} / {r['kind']} / {r['source']}"),
        "recall_by_system": grouped_recall(test_rows, gold, pred, lambda r: f"{r['label']} / {r['system']}"),
        "uncertain_band": {
            "threshold": calibration.machine_bar,
            "original_threshold": calibration.original_bar,
            **band_figures(test_rows, gold, pred, is_definite),
            "machine_made_called_original": share([i in definite_set and pred[i] == ORIGINAL
                                                    for i, g in enumerate(gold) if g != ORIGINAL]),
            "definite_documents": classification_metrics([gold[i] for i in definite], band_pred),
        },
    }

    # 2. sentences: in context (what the Predictor prints) and alone
    spans = load_spans(cfg.corpus)
    span_index = span_index_of(spans)
    s_gold, s_pred = [], []
    for row, p in zip(test_rows, predictions):
        _, unchanged, _ = labelled_regions(row, span_index)
        for s in p.sentences:
            if not any(a <= s.start and s.end <= b for a, b in unchanged):
                s_gold.append(LABEL2ID[row["label"]])
                s_pred.append(LABELS.index(s.label))
    report["sentences_in_context"] = classification_metrics(s_gold, s_pred)
    lone = [(row["text"][a:b], LABEL2ID[row["label"]]) for row in test_rows
            for a, b in rng.sample(split_sentences(row["text"]), min(1, len(split_sentences(row["text"]))))]
    lone = [(t, g) for t, g in lone if len(t.split()) >= 4]
    lone_pred = predictor.predict([t for t, _ in lone], sentences=False, artifacts=False, threshold=0.0)
    report["sentences_alone"] = classification_metrics([g for _, g in lone], [top_label(p) for p in lone_pred])
    log("sentences done")

    # 3. artifacts: held-out MQM spans and round-trip word changes
    held = sample([r for r in spans if split_of(r["group"], cfg.split, cfg.seed) == "test"] if spans else [], max_docs)
    if held:
        preds = predictor.predict([r["text"] for r in held], sentences=False)
        report["artifacts_mqm"] = char_prf([[tuple(s) for s in r["spans"]] for r in held],
                                           [predicted_spans(p) for p in preds],
                                           [r["text"] for r in held])
        report["artifacts_mqm"]["segments"] = len(held)
    rt = [(row, p) for row, p in zip(test_rows, predictions) if row["kind"] == "mt-roundtrip"]
    if rt:
        report["artifacts_roundtrip"] = char_prf([labelled_regions(row)[0] for row, _ in rt],
                                                 [predicted_spans(p) for _, p in rt],
                                                 [row["text"] for row, _ in rt])
    log("artifacts done")

    # 4. robustness: accuracy by length and under perturbation
    report["accuracy_by_length"] = accuracy_by_length(predictor, test_rows, 200, cfg.seed)
    subset = rng.sample(range(len(test_rows)), min(perturbed_docs, len(test_rows)))
    sub_gold = [gold[i] for i in subset]
    clean_correct = [pred[i] == gold[i] for i in subset]
    robustness = {"n": len(subset), "clean": float(np.mean(clean_correct))}
    flagged = {"clean": share(["no-punctuation" in predictions[i].flags for i in subset])}
    sub_rows = [test_rows[i] for i in subset]
    human_flagged = {"clean": human_fpr(sub_rows, [pred[i] for i in subset])["all"]["fpr"]}
    drops = {}
    for name, attacks in PERTURBATIONS.items():
        p = predictor.predict(perturbed_copies(test_rows, subset, attacks, cfg.seed), sentences=False,
                              artifacts=False, threshold=0.0)
        labels = [top_label(x) for x in p]
        correct = [label == g for label, g in zip(labels, sub_gold)]
        robustness[name] = float(np.mean(correct))
        drops[name] = paired_drop(clean_correct, correct)
        flagged[name] = share(["no-punctuation" in x.flags for x in p])
        human_flagged[name] = human_fpr(sub_rows, labels)["all"]["fpr"]
    robustness["largest_drop"] = max(robustness["clean"] - v for k, v in robustness.items() if k not in ("n", "clean"))
    report["perturbation_accuracy"] = robustness
    report["perturbation_drop"] = drops
    report["perturbation_flagged_no_punctuation"] = flagged
    report["perturbation_human_flagged"] = human_flagged
    log("robustness done")

    # 5. the baseline on the same split
    b_pred, b_info = baseline(list(splits["train"]), test_rows)
    report["baseline"] = {"model": "hashed char_wb 2-4-gram TF-IDF + logistic regression (model/ngrams.py)", **b_info,
                          "documents": classification_metrics(gold, b_pred),
                          "human_false_positive_rate": human_fpr(test_rows, b_pred),
                          "recall_by_source": grouped_recall(test_rows, gold, b_pred,
                                                             lambda r: f"{r['label']} / {r['kind']} / {r['source']}")}
    report["validation_choices"] = {"min_words": calibration.min_words}
    report["evaluation_seconds"] = round(time.time() - started)
    log("baseline done")

    (ckpt / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (ckpt / "report.md").write_text(markdown_report(report))
    plot_reliability(report, ckpt / "reliability.png")
    plot_length(report, ckpt / "accuracy_by_length.png")
    return report


def main(argv=None) -> None:
    parser = command_parser(__doc__.splitlines()[0])
    parser.add_argument("--max-docs", type=int, default=0, help="evaluate on a sample of the test split (0 = all)")
    parser.add_argument("--perturbed-docs", type=int, default=600,
                        help="test documents given each perturbation (at 250 a 2-point drop is within noise)")
    args = parser.parse_args(argv)
    cfg = TrainConfig.from_yaml(args.config, args.overrides)
    report = evaluate_checkpoint(args.checkpoint, cfg, args.max_docs, args.perturbed_docs)
    print(markdown_report(report))


if __name__ == "__main__":
    main()
