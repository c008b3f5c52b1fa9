"""Character n-grams: a linear model beside the transformer, for the document verdict.

Hashed character 2-4-grams (within words, lower-cased), TF-IDF, logistic regression. It
reads the whole text in one pass where the transformer reads 256-token windows, and it errs
on other documents: on 800 validation documents, either alone was right on 91% and their mix
on 94% (docs/experiments/README.md). Hashing keeps it to two arrays and no vocabulary (2 MB in
fp16). `Predictor` mixes its probabilities with the transformer's, with the weight its
calibration gives (`ngram_weight`, model/calibration.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from model import checkpoint

N_FEATURES = 2**18
NGRAM_RANGE = (2, 4)
MAX_CHARS = 5000  # the n-grams of one long document's first pages say what the rest would


def _counts(texts):
    """Hashed n-gram counts: stateless, so the checkpoint needs no vocabulary."""
    from sklearn.feature_extraction.text import HashingVectorizer

    hasher = HashingVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, n_features=N_FEATURES,
                               alternate_sign=False, norm=None, dtype=np.float32)
    return hasher.transform([t[:MAX_CHARS] for t in texts])


class CharNgrams:
    def __init__(self, idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray):
        self.idf, self.coef, self.intercept = idf, coef, intercept

    def _features(self, texts):
        from scipy.sparse import diags
        from sklearn.preprocessing import normalize

        x = _counts(texts)
        x.data = np.log(x.data) + 1  # sublinear term frequency, as TfidfTransformer(sublinear_tf=True)
        return normalize(x @ diags(self.idf))

    def probabilities(self, texts) -> np.ndarray:
        """[len(texts), labels] probabilities, rows in LABELS order."""
        if not texts:
            return np.zeros((0, len(self.intercept)), dtype=np.float32)
        logits = self._features(texts) @ self.coef.T + self.intercept
        logits = np.asarray(logits, dtype=np.float64)
        logits -= logits.max(1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(1, keepdims=True)

    @classmethod
    def fit(cls, texts, labels, C: float = 4.0) -> "CharNgrams":
        from sklearn.feature_extraction.text import TfidfTransformer
        from sklearn.linear_model import LogisticRegression

        tfidf = TfidfTransformer(sublinear_tf=True)
        x = tfidf.fit_transform(_counts(texts))
        clf = LogisticRegression(max_iter=300, C=C, class_weight="balanced").fit(x, labels)
        return cls(tfidf.idf_.astype(np.float32), clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"idf": self.idf, "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def load(cls, ckpt_dir: str | Path) -> "CharNgrams | None":
        """The checkpoint's n-gram model, or None for a checkpoint without one."""
        arrays = checkpoint.read_ngrams(ckpt_dir)
        return cls(**arrays) if arrays else None
