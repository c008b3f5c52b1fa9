"""Character n-grams: a linear model beside the transformer, for the document verdict.

Hashed character 2-4-grams (within words, lower-cased), TF-IDF, logistic regression. It
reads the whole text in one pass where the transformer reads 256-token windows, and it errs
on other documents: on 800 validation documents, either alone was right on 91% and their mix
on 94% (docs/experiments/README.md). Hashing keeps it to two arrays and no vocabulary (2 MB in
fp16). `Predictor` mixes its probabilities with the transformer's, with the weight its
calibration gives (`ngram_weight`, model/calibration.py).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from model import checkpoint

N_FEATURES = 2**18
NGRAM_RANGE = (2, 4)
MAX_CHARS = 5000  # the n-grams of one long document's first pages say what the rest would
_SPACES = re.compile(r"\s\s+")


def _ngrams(text: str) -> list[str]:
    """Character n-grams within words, each word padded with a space: scikit-learn's `char_wb`."""
    grams = []
    for word in _SPACES.sub(" ", text.lower()).split():
        word = f" {word} "
        for n in range(NGRAM_RANGE[0], NGRAM_RANGE[1] + 1):
            grams += [word[i : i + n] for i in range(max(len(word) - n, 0) + 1)]
            if len(word) <= n:  # a short word gives one n-gram, once
                break
    return grams


def _hashed(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The feature indices of `text` and their counts, as scikit-learn's
    HashingVectorizer(analyzer="char_wb") gives them (tests/test_ngrams.py holds the two
    together), with murmurhash3 from `mmh3`: importing scikit-learn would be most of a cold start."""
    from mmh3 import hash as murmur

    hashes = np.array([murmur(g.encode("utf-8"), 0, signed=True) for g in _ngrams(text[:MAX_CHARS])], dtype=np.int64)
    return np.unique(np.abs(hashes) % N_FEATURES, return_counts=True)


def _counts(texts):
    """Hashed n-gram counts, a sparse matrix for fitting. Stateless: the checkpoint needs no vocabulary."""
    from scipy.sparse import csr_matrix

    hashed = [_hashed(t) for t in texts]
    rows = np.concatenate([np.full(len(i), r) for r, (i, _) in enumerate(hashed)])
    return csr_matrix((np.concatenate([c for _, c in hashed]).astype(np.float32),
                       (rows, np.concatenate([i for i, _ in hashed]))), shape=(len(texts), N_FEATURES))


class CharNgrams:
    def __init__(self, idf: np.ndarray, coef: np.ndarray, intercept: np.ndarray):
        self.idf, self.coef, self.intercept = idf, coef, intercept

    def probabilities(self, texts) -> np.ndarray:
        """[len(texts), labels] probabilities, rows in LABELS order."""
        logits = np.zeros((len(texts), len(self.intercept)))
        for r, text in enumerate(texts):
            index, counts = _hashed(text)
            # TfidfTransformer(sublinear_tf=True), then rows of unit length, as the fit saw them
            x = (np.log(counts) + 1) * self.idf[index]
            logits[r] = self.coef[:, index].astype(np.float64) @ (x / max(np.linalg.norm(x), 1e-12)) + self.intercept
        probs = np.exp(logits - logits.max(1, keepdims=True))
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
