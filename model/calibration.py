"""Calibration: how a checkpoint's raw outputs become the probabilities and verdicts a user sees.

One owner: training/yardstick.py chooses it (on validation and the out-of-distribution dev set),
the checkpoint stores it (`calibration` in telltale.json, model/checkpoint.py), and `Predictor`
applies it through `document_probabilities` and `verdict`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from model.labels import LABELS, ORIGINAL

UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0  # divides every logit, documents' and sentences'
    ngram_weight: float = 0.0  # share of the n-gram model in the document verdict (weighted geometric mean)
    label_prior: tuple = (1.0,) * len(LABELS)  # multipliers on the document probabilities, then renormalised
    machine_bar: float = 0.0  # a machine label with a lower probability becomes "uncertain"
    original_bar: float = 0.0  # likewise "original": it cannot mislabel human text, so it has a bar of its own
    min_words: int = 0  # shorter texts get the too-short warning
    artifact_threshold: float = 0.5  # a token with at least this artifact score is flagged
    # the same, for the scores of the int8 backend (model/fast.py quantize_int8), which run
    # lower; 0 = not chosen, and the int8 backend uses artifact_threshold (fewer words flagged)
    int8_artifact_threshold: float = 0.0

    @classmethod
    def from_dict(cls, values: dict) -> "Calibration":
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown calibration setting(s): {', '.join(sorted(unknown))}")
        return cls(**{**values, "label_prior": tuple(values.get("label_prior", cls.label_prior))})

    def to_dict(self) -> dict:
        return {**asdict(self), "label_prior": list(self.label_prior)}

    def replace(self, **changes) -> "Calibration":
        return replace(self, **changes)

    def document_probabilities(self, window_logits: np.ndarray, window_weights: np.ndarray,
                               ngram_probs: np.ndarray | None = None) -> np.ndarray:
        """A document's windows' probabilities averaged by weight (token count), mixed with the
        n-gram model's, then reweighted by the label prior."""
        probs = softmax(np.asarray(window_logits, dtype=np.float64) / self.temperature)
        weights = np.asarray(window_weights, dtype=np.float64)
        probs = (probs * weights[:, None]).sum(0) / weights.sum()
        if self.ngram_weight and ngram_probs is not None:
            mix = self.ngram_weight
            probs = softmax((1 - mix) * np.log(np.maximum(probs, 1e-9)) + mix * np.log(np.maximum(ngram_probs, 1e-9)))
        probs = probs * np.asarray(self.label_prior, dtype=np.float64)
        return probs / probs.sum()

    def verdict(self, probs: np.ndarray, threshold: float | None = None) -> str:
        """The label, or "uncertain" below its bar (or below `threshold`, one bar for every label)."""
        label = int(np.argmax(probs))
        if threshold is None:
            threshold = self.original_bar if label == ORIGINAL else self.machine_bar
        return LABELS[label] if float(probs[label]) >= threshold else UNCERTAIN


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)
