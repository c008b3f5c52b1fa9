import numpy as np
import pytest
import torch

from conftest import ARTICLE
from model.ngrams import CharNgrams
from model.predictor import DocumentRun, Predictor
from model.text import Window

# Three made-up styles, one per label, written for this test.
STYLES = [
    "The harbour council voted on Tuesday to keep the ferry pier open, a spokesman said.",
    "The council of harbour has voted the Tuesday for maintaining open the pier of ferry.",
    "In a pivotal move, the harbour council voted to keep the ferry pier open, underscoring its commitment.",
]


def test_ngram_model_survives_its_checkpoint_file_and_reads_styles(tmp_path):
    model = CharNgrams.fit(STYLES * 4, [0, 1, 2] * 4)
    model.save(tmp_path)
    loaded = CharNgrams.load(tmp_path)
    probs = loaded.probabilities(STYLES)
    assert probs.argmax(1).tolist() == [0, 1, 2]
    assert probs.sum(1) == pytest.approx(np.ones(3), abs=1e-6)
    assert probs == pytest.approx(model.probabilities(STYLES), abs=1e-3)  # fp16 on disk
    assert loaded.probabilities([]).shape == (0, 3)


def test_a_checkpoint_without_ngrams_has_none(tmp_path):
    assert CharNgrams.load(tmp_path) is None


def _run(window_logits, ngram_probs):
    window = Window(input_ids=[0, 5, 1], token_spans=[(0, 4)], sentence_ids=[0])
    return DocumentRun("text", None, [(0, 4)], [window], [(torch.tensor(window_logits), None, None)],
                       torch.tensor(ngram_probs))


def test_ngram_weight_mixes_the_two_verdicts_and_is_fitted_to_the_better_one():
    from training.evaluate import fit_ngram_weight

    predictor = Predictor(None, None, {"ngram_weight": 0.5}, "cpu", ngrams=object())
    run = _run([0.0, 0.0, 0.0], [0.8, 0.1, 0.1])
    assert predictor.document_probabilities(run, ngram_weight=0.0).tolist() == pytest.approx([1 / 3] * 3)
    assert predictor.document_probabilities(run, ngram_weight=1.0).tolist() == pytest.approx([0.8, 0.1, 0.1])
    assert predictor.document_probabilities(run)[0] == pytest.approx(0.8**0.5 / (0.8**0.5 + 2 * 0.1**0.5))
    # a transformer that knows nothing beside n-grams that are right: all weight on the n-grams
    runs = [_run([0.0, 0.0, 0.0], np.eye(3)[g] * 0.9 + 0.05) for g in (0, 1, 2, 0)]
    assert fit_ngram_weight(predictor, runs, [0, 1, 2, 0]) == 1.0
    runs = [_run(np.eye(3)[g] * 4, [1 / 3] * 3) for g in (0, 1, 2, 0)]
    assert fit_ngram_weight(predictor, runs, [0, 1, 2, 0]) == 0.0


def test_shipped_model_mixes_ngrams_into_documents_not_sentences(predictor, monkeypatch):
    assert predictor.ngrams is not None and 0 < predictor.ngram_weight < 1
    run = predictor.run([ARTICLE])[0]
    mixed = predictor.assemble(run, want_artifacts=False)
    monkeypatch.setattr(predictor, "ngram_weight", 0.0)
    alone = predictor.assemble(run, want_artifacts=False)
    assert mixed.probabilities != pytest.approx(alone.probabilities, abs=1e-3)
    assert mixed.sentences == alone.sentences
