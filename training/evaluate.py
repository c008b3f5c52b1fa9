"""Evaluate a checkpoint; fit its calibration on validation; write report.json and report.md.

    python -m training.evaluate runs/default [--config configs/default.yaml] [--max-docs N]

Validation (never test) chooses the temperature, the label prior, the two "uncertain"
thresholds (by default at most 1% of human-written documents get a machine label and at most 5%
of machine-made ones are called original: `human_flagged_budget`, `machine_missed_budget`) and
the minimum length; they are stored in the checkpoint. The test split then measures everything
the Predictor outputs, beside a character n-gram TF-IDF + logistic regression baseline trained
on the same train split.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from model.labels import LABEL2ID, LABELS, ORIGINAL
from model.network import CONFIG_FILE
from model.predictor import UNCERTAIN, Predictor
from model.text import split_sentences
from training.config import TrainConfig
from training.corpus import labelled_regions, load_spans, load_splits, span_index_of, split_of
from training.perturb import PERTURBATIONS, perturb

LENGTH_BUCKETS = ("1 sentence", "2-3 sentences", "~50 words", "~100 words", "~300 words", "500+ words")


# --- metrics -----------------------------------------------------------------


def classification_metrics(gold: list[int], pred: list[int]) -> dict:
    if not gold:
        return {"n": 0}
    p, r, f, n = precision_recall_fscore_support(gold, pred, labels=range(len(LABELS)), zero_division=0)
    return {
        "n": len(gold),
        "accuracy": float(np.mean(np.array(gold) == np.array(pred))) if gold else None,
        "macro_f1": float(f1_score(gold, pred, labels=range(len(LABELS)), average="macro", zero_division=0)),
        "per_class": {LABELS[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(n[i])}
                      for i in range(len(LABELS))},
        "confusion": confusion_matrix(gold, pred, labels=range(len(LABELS))).tolist(),
    }


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> tuple[float, list]:
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    ece, table = 0.0, []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            acc, c = float((pred[inside] == gold[inside]).mean()), float(conf[inside].mean())
            ece += inside.mean() * abs(acc - c)
            table.append({"bin": [float(lo), float(hi)], "n": int(inside.sum()), "accuracy": acc, "confidence": c})
    return float(ece), table


def grouped_recall(rows: list[dict], gold: list[int], pred: list[int], key) -> dict:
    out = defaultdict(lambda: [0, 0])
    for row, g, p in zip(rows, gold, pred):
        k = key(row)
        out[k][0] += int(g == p)
        out[k][1] += 1
    return {k: {"recall": hit / n, "n": n} for k, (hit, n) in sorted(out.items())}


def human_fpr(rows, pred) -> dict:
    """Share of human-written (label original) documents given a machine label, by kind."""
    out = {}
    for kind in ("all", "human", "human-translation"):
        mine = [p for r, p in zip(rows, pred) if r["label"] == "original" and kind in ("all", r["kind"])]
        out[kind] = {"fpr": sum(p not in (ORIGINAL, -1) for p in mine) / len(mine) if mine else None, "n": len(mine)}
    return out


def char_prf(gold_spans: list[list[tuple]], pred_spans: list[list[tuple]], texts: list[str]) -> dict:
    """Character-level precision/recall/F1 of artifact spans (whitespace ignored)."""
    tp = fp = fn = 0
    for gold, pred, text in zip(gold_spans, pred_spans, texts):
        g = {i for s, e in gold for i in range(s, e) if not text[i].isspace()}
        p = {i for s, e in pred for i in range(s, e) if not text[i].isspace()}
        tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "gold_chars": tp + fn, "predicted_chars": tp + fp}


def paired_drop(clean_correct, perturbed_correct) -> dict:
    """Accuracy drop from clean to perturbed copies of the same documents, with a 95% interval
    from the per-document differences (normal approximation): most documents are right or
    wrong both ways, so pairing gives a far narrower interval than two separate accuracies."""
    diff = np.asarray(clean_correct, dtype=float) - np.asarray(perturbed_correct, dtype=float)
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return {"drop": float(diff.mean()), "ci95": [float(diff.mean() - half), float(diff.mean() + half)]}


# --- calibration choices on validation -----------------------------------------


def _nll(predictor, runs, gold, **choice) -> float:
    probs = np.stack([predictor.document_probabilities(r, **choice).numpy() for r in runs])
    return float(-np.log(probs[np.arange(len(gold)), gold] + 1e-12).mean())


def fit_temperature(predictor, runs, gold) -> float:
    return min((_nll(predictor, runs, gold, temperature=t), float(round(t, 2)))
               for t in np.arange(0.5, 5.01, 0.05))[1]


def fit_ngram_weight(predictor, runs, gold) -> float:
    """The share of the n-gram model in the document verdict, for the least validation
    log-loss (before temperature and prior, which are fitted after it)."""
    return min((_nll(predictor, runs, gold, temperature=1.0, label_prior=[1.0] * len(LABELS), ngram_weight=w),
                float(round(w, 2))) for w in np.arange(0.0, 1.001, 0.05))[1]


def fit_label_prior(probs: np.ndarray, rows: list[dict]) -> list[float]:
    """Multipliers on the machine labels' probabilities (original's stays 1) that give the best
    macro-F1 without giving more human-written documents a machine label than none do."""
    gold = np.array([LABEL2ID[r["label"]] for r in rows])
    human = gold == ORIGINAL

    def score(prior):
        pred = (probs * prior).argmax(1)
        return f1_score(gold, pred, average="macro", labels=list(range(len(LABELS)))), (pred[human] != ORIGINAL).mean()

    best = np.ones(len(LABELS))
    best_f1, human_flagged = score(best)
    machine = [i for i in range(len(LABELS)) if i != ORIGINAL]
    steps = np.exp(np.arange(-1.0, 2.01, 0.1))
    for multipliers in itertools.product(steps, repeat=len(machine)):
        prior = np.ones(len(LABELS))
        prior[machine] = multipliers
        f1, flagged = score(prior)
        if flagged <= human_flagged and f1 > best_f1:
            best_f1, best = f1, prior
    return [round(float(x), 3) for x in best]


def fit_uncertain_threshold(probs: np.ndarray, rows: list[dict], budget: float) -> float:
    """Smallest threshold under which at most `budget` of human-written docs get a machine label."""
    human = np.array([r["label"] == "original" for r in rows])
    return _smallest_threshold(probs[human], probs[human].argmax(1) != ORIGINAL, budget)


def fit_original_threshold(probs: np.ndarray, rows: list[dict], budget: float) -> float:
    """Smallest threshold under which at most `budget` of machine-made docs are called original."""
    machine = np.array([r["label"] != "original" for r in rows])
    return _smallest_threshold(probs[machine], probs[machine].argmax(1) == ORIGINAL, budget)


def _smallest_threshold(probs: np.ndarray, wrong: np.ndarray, budget: float) -> float:
    """Smallest bar on the top probability that leaves at most `budget` of the rows a wrong, definite verdict."""
    for t in np.arange(0.34, 1.0, 0.01):
        if (wrong & (probs.max(1) >= t)).mean() <= budget:
            return float(round(t, 2))
    return 0.99


def band_figures(rows, gold, pred, definite) -> dict:
    """What the `uncertain` band leaves (`definite`: one bool per row): the share of documents
    with a definite verdict, the accuracy of those, and the human-written documents given a
    definite machine label, by kind."""
    return {"coverage": _share(definite),
            "accuracy_on_definite": _share([g == p for g, p, d in zip(gold, pred, definite) if d]),
            "human_false_positive_rate_on_all": human_fpr(rows, [p if d else -1 for p, d in zip(pred, definite)])}


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
        preds = predictor.predict([t for t, _ in cut], sentences=False, artifacts=False, uncertain_below=0.0)
        gold = [LABEL2ID[r["label"]] for _, r in cut]
        pred = [LABELS.index(p.label) for p in preds]
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
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.time()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=200_000, sublinear_tf=True,
                          min_df=3, dtype=np.float32)
    x = vec.fit_transform([r["text"][:5000] for r in train_rows])
    clf = LogisticRegression(max_iter=300, C=4.0, class_weight="balanced")
    clf.fit(x, [LABEL2ID[r["label"]] for r in train_rows])
    pred = clf.predict(vec.transform([r["text"][:5000] for r in test_rows])).tolist()
    return pred, {"seconds": round(time.time() - started), "train_docs": len(train_rows)}


# --- the whole evaluation -------------------------------------------------------


def evaluate_checkpoint(ckpt: str | Path, cfg: TrainConfig, max_docs: int = 0, validation_docs: int = 0,
                        perturbed_docs: int = 600, batch_size: int = 16) -> dict:
    ckpt = Path(ckpt)
    started = time.time()
    splits = load_splits(cfg)
    # Two generators, so that the test-side samples (lone sentences, perturbed documents) are
    # the same documents whatever the size of the validation sample.
    rng, validation_rng = random.Random(cfg.seed), random.Random(cfg.seed)

    def sample(ds, n, rng=rng):
        rows = list(ds)
        return rng.sample(rows, n) if n and n < len(rows) else rows

    predictor = Predictor.load(ckpt)
    log = lambda msg: print(f"[{time.time() - started:5.0f}s] {msg}", flush=True)

    # 1. validation: temperature, label prior, uncertain thresholds, minimum length
    val_rows = sample(splits["validation"], validation_docs, validation_rng)
    val_runs = predictor.run([r["text"] for r in val_rows], batch_size)
    val_gold = [LABEL2ID[r["label"]] for r in val_rows]
    no_prior = [1.0] * len(LABELS)
    predictor.label_prior = no_prior  # a re-evaluated checkpoint starts afresh
    ngram_weight = predictor.ngram_weight = fit_ngram_weight(predictor, val_runs, val_gold) if predictor.ngrams else 0.0
    temperature = fit_temperature(predictor, val_runs, val_gold)
    predictor.temperature = temperature
    label_prior = fit_label_prior(np.stack([predictor.document_probabilities(r).numpy() for r in val_runs]), val_rows)
    predictor.label_prior = label_prior
    # The prior moves probability mass away from what the temperature was fitted to: fit it again.
    temperature = predictor.temperature = fit_temperature(predictor, val_runs, val_gold)
    val_probs = np.stack([predictor.document_probabilities(r).numpy() for r in val_runs])
    threshold = fit_uncertain_threshold(val_probs, val_rows, cfg.human_flagged_budget)
    original_threshold = fit_original_threshold(val_probs, val_rows, cfg.machine_missed_budget)
    val_length = accuracy_by_length(predictor, val_rows, 200, cfg.seed)
    min_words = choose_min_words(val_length)
    settings = json.loads((ckpt / CONFIG_FILE).read_text())
    settings.update(ngram_weight=ngram_weight, temperature=temperature, label_prior=label_prior,
                    uncertain_below=threshold, original_below=original_threshold, min_words=min_words)
    (ckpt / CONFIG_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    predictor.uncertain_below, predictor.original_below, predictor.min_words = threshold, original_threshold, min_words
    log(f"validation: n-gram weight {ngram_weight}, temperature {temperature}, label prior {label_prior}, "
        f"uncertain below {threshold} "
        f"(original below {original_threshold}), min words {min_words}")

    # 2. test documents
    test_rows = sample(splits["test"], max_docs)
    runs = predictor.run([r["text"] for r in test_rows], batch_size)
    gold = [LABEL2ID[r["label"]] for r in test_rows]
    raw = np.stack([predictor.document_probabilities(r, 1.0, no_prior).numpy() for r in runs])
    probs = np.stack([predictor.document_probabilities(r).numpy() for r in runs])
    pred = probs.argmax(1).tolist()
    transformer_alone = [int(predictor.document_probabilities(r, ngram_weight=0.0).argmax()) for r in runs]
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
        "training": settings.get("training", {}),
        "calibration": {"temperature": temperature, "label_prior": label_prior, "ece_before": ece_before,
                        "ece_after": ece_after, "reliability": reliability},
        "documents": classification_metrics(gold, pred),
        "ngram_weight": predictor.ngram_weight,
        "documents_transformer_alone": classification_metrics(gold, transformer_alone),
        "human_false_positive_rate": human_fpr(test_rows, pred),
        "recall_by_source": grouped_recall(test_rows, gold, pred, lambda r: f"{r['label']} / {r['kind']} / {r['source']}"),
        "recall_by_system": grouped_recall(test_rows, gold, pred, lambda r: f"{r['label']} / {r['system']}"),
        "uncertain_band": {
            "threshold": threshold,
            "original_threshold": original_threshold,
            **band_figures(test_rows, gold, pred, is_definite),
            "machine_made_called_original": _share([i in definite_set and pred[i] == ORIGINAL
                                                    for i, g in enumerate(gold) if g != ORIGINAL]),
            "definite_documents": classification_metrics([gold[i] for i in definite], band_pred),
        },
    }

    # 3. sentences: in context (what the Predictor prints) and alone
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
    lone_pred = predictor.predict([t for t, _ in lone], sentences=False, artifacts=False, uncertain_below=0.0)
    report["sentences_alone"] = classification_metrics([g for _, g in lone], [LABELS.index(p.label) for p in lone_pred])
    log("sentences done")

    # 4. artifacts: held-out MQM spans and round-trip word changes
    held = sample([r for r in spans if split_of(r["group"], cfg.split, cfg.seed) == "test"] if spans else [], max_docs)
    if held:
        preds = predictor.predict([r["text"] for r in held], sentences=False)
        report["artifacts_mqm"] = char_prf([[tuple(s) for s in r["spans"]] for r in held],
                                           [[(a.start, a.end) for a in p.artifacts if a.kind == "model"] for p in preds],
                                           [r["text"] for r in held])
        report["artifacts_mqm"]["segments"] = len(held)
    rt = [(row, p) for row, p in zip(test_rows, predictions) if row["kind"] == "mt-roundtrip"]
    if rt:
        report["artifacts_roundtrip"] = char_prf([labelled_regions(row)[0] for row, _ in rt],
                                                 [[(a.start, a.end) for a in p.artifacts if a.kind == "model"] for _, p in rt],
                                                 [row["text"] for row, _ in rt])
    log("artifacts done")

    # 5. robustness: accuracy by length and under perturbation
    report["accuracy_by_length"] = accuracy_by_length(predictor, test_rows, 200, cfg.seed)
    subset = rng.sample(range(len(test_rows)), min(perturbed_docs, len(test_rows)))
    sub_gold = [gold[i] for i in subset]
    clean_correct = [pred[i] == gold[i] for i in subset]
    robustness = {"n": len(subset), "clean": float(np.mean(clean_correct))}
    flagged = {"clean": _share(["no-punctuation" in predictions[i].flags for i in subset])}
    sub_rows = [test_rows[i] for i in subset]
    human_flagged = {"clean": human_fpr(sub_rows, [pred[i] for i in subset])["all"]["fpr"]}
    drops = {}
    for name, attacks in PERTURBATIONS.items():
        p = predictor.predict(perturbed_copies(test_rows, subset, attacks, cfg.seed), sentences=False,
                              artifacts=False, uncertain_below=0.0)
        labels = [LABELS.index(x.label) for x in p]
        correct = [label == g for label, g in zip(labels, sub_gold)]
        robustness[name] = float(np.mean(correct))
        drops[name] = paired_drop(clean_correct, correct)
        flagged[name] = _share(["no-punctuation" in x.flags for x in p])
        human_flagged[name] = human_fpr(sub_rows, labels)["all"]["fpr"]
    robustness["largest_drop"] = max(robustness["clean"] - v for k, v in robustness.items() if k not in ("n", "clean"))
    report["perturbation_accuracy"] = robustness
    report["perturbation_drop"] = drops
    report["perturbation_flagged_no_punctuation"] = flagged
    report["perturbation_human_flagged"] = human_flagged
    log("robustness done")

    # 6. the baseline on the same split
    b_pred, b_info = baseline(list(splits["train"]), test_rows)
    report["baseline"] = {"model": "char_wb 2-4-gram TF-IDF + logistic regression (scikit-learn)", **b_info,
                          "documents": classification_metrics(gold, b_pred),
                          "human_false_positive_rate": human_fpr(test_rows, b_pred),
                          "recall_by_source": grouped_recall(test_rows, gold, b_pred,
                                                             lambda r: f"{r['label']} / {r['kind']} / {r['source']}")}
    report["validation_choices"] = {"docs": len(val_rows), "accuracy_by_length": val_length, "min_words": min_words}
    report["evaluation_seconds"] = round(time.time() - started)
    log("baseline done")

    (ckpt / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (ckpt / "report.md").write_text(markdown_report(report))
    plot_reliability(report, ckpt / "reliability.png")
    plot_length(report, ckpt / "accuracy_by_length.png")
    return report


# --- writing it down -------------------------------------------------------------


def _share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def markdown_report(r: dict) -> str:
    d, b = r["documents"], r["baseline"]["documents"]
    t = r.get("training", {})
    lines = [
        f"# Evaluation report: `{r['checkpoint']}`", "",
        f"Test split: {d['n']} documents (group split, seed in the training config). "
        f"Training: {t.get('steps', '?')} steps in {t.get('seconds', '?')} s on {t.get('device', '?')}. "
        f"Evaluation took {r['evaluation_seconds']} s.", "",
        "## Headline (test split)", "",
        "| metric | telltale | baseline (char n-gram TF-IDF + LR) |", "|---|---|---|",
        f"| document accuracy | {_pct(d['accuracy'])} | {_pct(b['accuracy'])} |",
        f"| document macro-F1 | {d['macro_f1']:.3f} | {b['macro_f1']:.3f} |",
    ]
    if r.get("ngram_weight"):  # without n-grams (older checkpoints) it would repeat the row above
        alone = r["documents_transformer_alone"]
        lines.append(f"| document accuracy / macro-F1, transformer alone (without its n-gram model, weight "
                     f"{r['ngram_weight']}) | {_pct(alone['accuracy'])} / {alone['macro_f1']:.3f} | |")
    lines += [
        f"| sentence macro-F1 (in context) | {r['sentences_in_context']['macro_f1']:.3f} | |",
        f"| sentence macro-F1 (sentence alone) | {r['sentences_alone']['macro_f1']:.3f} | |",
    ]
    for kind in ("all", "human", "human-translation"):
        lines.append(f"| false-positive rate on human-written docs ({kind}) | "
                     f"{_pct(r['human_false_positive_rate'][kind]['fpr'])} (n={r['human_false_positive_rate'][kind]['n']}) | "
                     f"{_pct(r['baseline']['human_false_positive_rate'][kind]['fpr'])} |")
    c = r["calibration"]
    u = r["uncertain_band"]
    lines += [
        f"| expected calibration error, before / after temperature {c['temperature']}"
        + (f" and label prior {c['label_prior']}" if "label_prior" in c else "") + " | "
        f"{c['ece_before']:.3f} / {c['ece_after']:.3f} | |", "",
        "## Per class (documents)", "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|",
    ]
    lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
              for k, v in d["per_class"].items()]
    lines += ["", "Confusion matrix (rows gold, columns predicted; " + ", ".join(LABELS) + "):", ""]
    lines += ["    " + " ".join(f"{x:6d}" for x in row) for row in d["confusion"]]
    lines += ["", f"## The `uncertain` band (thresholds chosen on validation: {u['threshold']} for a machine "
              f"label, {u['original_threshold']} for original)", "",
              f"Coverage (documents with a definite verdict): {_pct(u['coverage'])}; accuracy on them: "
              f"{_pct(u['accuracy_on_definite'])}; human-written documents given a machine label: "
              f"{_pct(u['human_false_positive_rate_on_all']['all']['fpr'])} "
              f"(human {_pct(u['human_false_positive_rate_on_all']['human']['fpr'])}, "
              f"human-translation {_pct(u['human_false_positive_rate_on_all']['human-translation']['fpr'])}); "
              f"machine-made documents called original: {_pct(u['machine_made_called_original'])}.", "",
              "Definite verdicts by label (precision / recall / n gold): " + "; ".join(
                  f"{k} {v['precision']:.3f} / {v['recall']:.3f} / {v['support']}"
                  for k, v in u["definite_documents"].get("per_class", {}).items()) + ".", ""]
    lines += ["## Recall by label / kind / source", "", "| stratum | n | telltale | baseline |", "|---|---|---|---|"]
    for k, v in r["recall_by_source"].items():
        lines.append(f"| {k} | {v['n']} | {_pct(v['recall'])} | {_pct(r['baseline']['recall_by_source'][k]['recall'])} |")
    lines += ["", "## Recall by MT system / LLM", "", "| label / system | n | recall |", "|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {_pct(v['recall'])} |" for k, v in r["recall_by_system"].items()]
    lines += ["", "## Artifacts (character level)", "", "| held-out gold | precision | recall | F1 |", "|---|---|---|---|"]
    for key, name in (("artifacts_mqm", "MQM error spans (WMT zh-en, test groups)"),
                      ("artifacts_roundtrip", "round-trip changed words (test docs)")):
        if key in r:
            a = r[key]
            lines.append(f"| {name} | {a['precision']:.3f} | {a['recall']:.3f} | {a['f1']:.3f} |")
    lines += ["", "## Accuracy by length (test, `uncertain` off)", "", "| length | n | median words | accuracy | macro-F1 | human FPR |",
              "|---|---|---|---|---|---|"]
    for k, v in r["accuracy_by_length"].items():
        lines.append(f"| {k} | {v['n']} | {v['median_words']} | {_pct(v['accuracy'])} | {v['macro_f1']:.3f} | {_pct(v['human_fpr'])} |")
    p = r["perturbation_accuracy"]
    lines += ["", f"Minimum length for a verdict (from validation): {r['validation_choices']['min_words']} words.", "",
              f"## Perturbed test documents ({p['n']} sampled)", ""]
    flagged = r.get("perturbation_flagged_no_punctuation")  # absent from older reports
    drops = r.get("perturbation_drop")  # likewise
    human = r.get("perturbation_human_flagged")  # likewise
    lines += ["| input | accuracy |" + (" drop, points (95% interval) |" if drops else "")
              + (" warned `no-punctuation` |" if flagged else "")
              + (" human-written given a machine label |" if human else ""),
              "|---|---|" + ("---|" if drops else "") + ("---|" if flagged else "") + ("---|" if human else "")]
    for k, v in p.items():
        if k in ("n", "largest_drop"):
            continue
        row = f"| {k} | {_pct(v)} |"
        if drops:
            d = drops.get(k)  # the clean row has none
            row += f" {100 * d['drop']:.1f} ({100 * d['ci95'][0]:.1f} to {100 * d['ci95'][1]:.1f}) |" if d else " |"
        if flagged:
            row += f" {_pct(flagged[k])} |"
        if human:
            row += f" {_pct(human[k])} |"
        lines.append(row)
    lines += [f"", f"Largest drop: {100 * p['largest_drop']:.1f} points.", ""]
    return "\n".join(lines) + "\n"


def plot_reliability(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = r["calibration"]["reliability"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-",
            label=f"after (ECE {r['calibration']['ece_after']:.3f})")
    ax.set_xlabel("confidence"), ax.set_ylabel("accuracy"), ax.set_title("Reliability, test documents")
    ax.legend()
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)


def plot_length(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = r["accuracy_by_length"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(list(rows), [v["accuracy"] for v in rows.values()], "o-", label="accuracy")
    ax.plot(list(rows), [v["macro_f1"] for v in rows.values()], "s--", label="macro-F1")
    ax.set_ylim(0, 1), ax.set_ylabel("test"), ax.set_title("Accuracy against text length")
    ax.tick_params(axis="x", labelrotation=20), ax.legend(), ax.grid(alpha=0.3)
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--config", default="configs/default.yaml", help="for the corpus path, split and seed")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--max-docs", type=int, default=0, help="evaluate on a sample of the test split (0 = all)")
    parser.add_argument("--validation-docs", type=int, default=0,
                        help="validation documents the calibration and the uncertain band are fitted on (0: all; "
                             "a 1%% budget needs many human-written ones)")
    parser.add_argument("--perturbed-docs", type=int, default=600,
                        help="test documents given each perturbation (at 250 a 2-point drop is within noise)")
    args = parser.parse_args(argv)
    cfg = TrainConfig.from_yaml(args.config, args.overrides)
    report = evaluate_checkpoint(args.checkpoint, cfg, args.max_docs, args.validation_docs, args.perturbed_docs)
    print(markdown_report(report))


if __name__ == "__main__":
    main()
