"""Metrics: pure functions of gold rows and predicted label ids (-1 = uncertain).

A cell is label / source / system (`training.corpus.cell_of`). Cell figures weigh every cell the
same, so that no big, easy source hides a small, hard one.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from model.artifacts import words
from model.labels import LABEL2ID, LABELS, ORIGINAL
from training.corpus import cell_of

MIN_CELL = 10  # cells smaller than this are listed but left out of the cell-balanced mean
HUMAN_BUDGET = 0.05  # English-original documents given a machine label, per cell (band off)
TRANSLATION_BUDGET = 0.15  # human translations given a machine label (band off)


def top_label(prediction) -> int:
    """The label id a Prediction's probabilities favour: its verdict with the band off."""
    return LABELS.index(max(prediction.probabilities, key=prediction.probabilities.get))


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


def word_prf(gold_spans: list[list[tuple]], pred_spans: list[list[tuple]], texts: list[str]) -> dict:
    """Word-level precision/recall/F1 of artifact spans: a word is gold (predicted) when a gold
    (predicted) span overlaps it. Beside it, the same for flagging every word."""
    tp = fp = fn = total = 0
    for gold, pred, text in zip(gold_spans, pred_spans, texts):
        ws = words(text)
        g = {i for i, (a, b) in enumerate(ws) if any(s < b and a < e for s, e in gold)}
        p = {i for i, (a, b) in enumerate(ws) if any(s < b and a < e for s, e in pred)}
        tp, fp, fn, total = tp + len(g & p), fp + len(p - g), fn + len(g - p), total + len(ws)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    gold_share = (tp + fn) / total if total else 0.0  # flagging every word: precision = gold share, recall 1
    return {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
            "gold_words": tp + fn, "predicted_words": tp + fp, "words": total,
            "every_word_f1": 2 * gold_share / (gold_share + 1) if gold_share else 0.0}


def paired_drop(clean_correct, perturbed_correct) -> dict:
    """Accuracy drop from clean to perturbed copies of the same documents, with a 95% interval
    from the per-document differences (normal approximation): most documents are right or
    wrong both ways, so pairing gives a far narrower interval than two separate accuracies."""
    diff = np.asarray(clean_correct, dtype=float) - np.asarray(perturbed_correct, dtype=float)
    half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return {"drop": float(diff.mean()), "ci95": [float(diff.mean() - half), float(diff.mean() + half)]}


def band_figures(rows, gold, pred, definite) -> dict:
    """What the `uncertain` band leaves (`definite`: one bool per row): the share of documents
    with a definite verdict, the accuracy of those, and the human-written documents given a
    definite machine label, by kind."""
    return {"coverage": share(definite),
            "accuracy_on_definite": share([g == p for g, p, d in zip(gold, pred, definite) if d]),
            "human_false_positive_rate_on_all": human_fpr(rows, [p if d else -1 for p, d in zip(pred, definite)])}


def share(flags: list[bool]) -> float | None:
    return float(np.mean(flags)) if flags else None


def cell_recall(rows: list[dict], pred) -> dict:
    """Per cell: documents, and the share given the cell's own label."""
    hits = defaultdict(list)
    for row, p in zip(rows, pred):
        hits[cell_of(row)].append(p == LABEL2ID[row["label"]])
    return {cell: {"n": len(h), "recall": float(np.mean(h))} for cell, h in sorted(hits.items())}


def cell_balanced(cells: dict) -> dict:
    """Mean recall over the cells with at least MIN_CELL documents, and the worst of them; and the
    mean per label first (`label_balanced`), so that 13 MT cells of one source do not outvote 2
    rewrite cells."""
    big = {c: v for c, v in cells.items() if v["n"] >= MIN_CELL}
    if not big:
        return {"recall": None, "cells": 0, "worst_cell": None, "worst_recall": None, "by_label": {},
                "label_balanced": None}
    worst = min(big, key=lambda c: big[c]["recall"])
    by_label = defaultdict(list)
    for cell, v in big.items():
        by_label[cell.split(" / ")[0]].append(v["recall"])
    by_label = {label: float(np.mean(r)) for label, r in sorted(by_label.items())}
    return {"recall": float(np.mean([v["recall"] for v in big.values()])), "cells": len(big),
            "worst_cell": worst, "worst_recall": big[worst]["recall"], "by_label": by_label,
            "label_balanced": float(np.mean(list(by_label.values())))}


def human_flagged(rows: list[dict], pred) -> dict:
    """Per human-written cell: the share of its documents given a machine label."""
    flagged = defaultdict(list)
    for row, p in zip(rows, pred):
        if row["label"] == "original":
            flagged[cell_of(row)].append(p not in (ORIGINAL, -1))
    return {cell: {"n": len(f), "share": float(np.mean(f))} for cell, f in sorted(flagged.items())}


def summary(rows: list[dict], probs: np.ndarray, bars: tuple[float, float]) -> dict:
    """Every figure of one set, band off (argmax) and band on (`bars`: machine labels, original)."""
    gold = np.array([LABEL2ID[r["label"]] for r in rows])
    pred = probs.argmax(1)
    bar = np.where(pred == ORIGINAL, bars[1], bars[0])
    banded = np.where(probs.max(1) >= bar, pred, -1)
    human = gold == ORIGINAL
    cells = cell_recall(rows, pred)
    return {
        "n": len(rows),
        "cell_balanced": cell_balanced(cells),
        "macro_f1": float(f1_score(gold, pred, average="macro", labels=list(range(len(LABELS))), zero_division=0)),
        "accuracy": float((gold == pred).mean()),
        "cells": cells,
        "human_flagged": human_flagged(rows, pred),
        "band": {"coverage": float((banded >= 0).mean()),
                 "accuracy_on_definite": float((banded == gold)[banded >= 0].mean()) if (banded >= 0).any() else None,
                 "human_flagged": float(((banded != ORIGINAL) & (banded >= 0))[human].mean()) if human.any() else None,
                 "macro_f1": float(f1_score(gold, banded, average="macro", labels=list(range(len(LABELS))), zero_division=0))},
    }


def mixed_sentence_figures(gold, pred) -> dict:
    """Sentence labels of mixed documents (an original's opening, then a machine version): macro-F1
    over the labels their sentences truly have, the share of the original's sentences labelled
    `original`, and of the machine part's given their own label. Over the labels present, since a
    set whose machine parts are all rewrites (ood: the MT into English sits in groups with no
    English original to open with) would otherwise count `machine-translated` at F1 0 the moment
    one sentence is given it."""
    gold, pred = np.asarray(gold), np.asarray(pred)
    if not len(gold) or not (gold == ORIGINAL).any() or (gold == ORIGINAL).all():
        return {"sentences": len(gold), "macro_f1": None, "original_kept": None, "machine_found": None}
    machine, present = gold != ORIGINAL, np.unique(gold).tolist()
    return {"sentences": len(gold), "labels": [LABELS[i] for i in present],
            "macro_f1": float(f1_score(gold, pred, average="macro", labels=present, zero_division=0)),
            "original_kept": float((pred[~machine] == ORIGINAL).mean()),
            "machine_found": float((pred[machine] == gold[machine]).mean())}


def budget_excess(rows: list[dict], pred, translations: bool = True) -> float:
    """How far the human-written cell furthest over its budget is over it (0 when all are within):
    at most HUMAN_BUDGET of English-original documents, TRANSLATION_BUDGET of human translations
    (unless `translations` is false), given a machine label (cells of MIN_CELL documents or more)."""
    excess = 0.0
    for cell, v in human_flagged(rows, pred).items():
        translation = cell.endswith("human-translation")
        budget = TRANSLATION_BUDGET if translation else HUMAN_BUDGET
        if v["n"] >= MIN_CELL and (translations or not translation):
            excess = max(excess, v["share"] - budget)
    return excess
