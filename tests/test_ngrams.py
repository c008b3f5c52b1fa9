import numpy as np
import pytest
import torch

from conftest import ARTICLE
from model.ngrams import CHAR_ONLY_FILE, FEATURES, NGRAMS_FILE, Ngrams
from model.normalize import normalize
from model.predictor import DocumentRun, Predictor
from model.text import Window

# Three made-up styles, one per label, written for this test.
STYLES = [
    "The harbour council voted on Tuesday to keep the ferry pier open, a spokesman said.",
    "The council of harbour has voted the Tuesday for maintaining open the pier of ferry.",
    "In a pivotal move, the harbour council voted to keep the ferry pier open, underscoring its commitment.",
]


def test_ngram_model_survives_its_checkpoint_file_and_reads_styles(tmp_path):
    model = Ngrams.fit(STYLES * 4, [0, 1, 2] * 4)
    model.save(tmp_path)
    loaded = Ngrams.load(tmp_path)
    probs = loaded.probabilities(STYLES)
    assert probs.argmax(1).tolist() == [0, 1, 2]
    assert probs.sum(1) == pytest.approx(np.ones(3), abs=1e-6)
    assert probs == pytest.approx(model.probabilities(STYLES), abs=1e-3)  # fp16 on disk
    assert loaded.probabilities([]).shape == (0, 3)
    assert loaded.features == FEATURES


def test_word_ngrams_are_what_survives_stripped_punctuation():
    from model.ngrams import _counts

    def kept_when_stripped(features):
        text, stripped = "Mr. Okafor said: the pier, at last, stays open.", "Mr Okafor said the pier at last stays open"
        a, b = (_counts([t], features).toarray()[0] > 0 for t in (text, stripped))
        return (a & b).sum() / a.sum()

    assert kept_when_stripped(FEATURES) > kept_when_stripped((("char_wb", 2, 4),))


def test_a_checkpoint_from_before_the_word_ngrams_reads_characters_only(tmp_path):
    from safetensors.numpy import save_file

    model = Ngrams.fit(STYLES * 4, [0, 1, 2] * 4)
    save_file({"idf": model.idf, "coef": model.coef, "intercept": model.intercept}, str(tmp_path / CHAR_ONLY_FILE))
    assert Ngrams.load(tmp_path).features == (("char_wb", 2, 4),)
    model.save(tmp_path)  # the current file wins
    assert Ngrams.load(tmp_path).features == FEATURES and (tmp_path / NGRAMS_FILE).exists()


def test_a_checkpoint_without_ngrams_has_none(tmp_path):
    assert Ngrams.load(tmp_path) is None


def _run(window_logits, ngram_probs, text="text"):
    window = Window(input_ids=[0, 5, 1], token_spans=[(0, 4)], sentence_ids=[0])
    return DocumentRun(text, normalize(text), [(0, 4)], [window], [(torch.tensor(window_logits), None, None)],
                       torch.tensor(ngram_probs))


def test_ngram_weight_mixes_the_two_verdicts_and_is_fitted_to_the_better_one():
    from training.evaluate import fit_ngram_weight

    predictor = Predictor(None, None, {"ngram_weight": 0.5}, "cpu", ngrams=object())  # an older checkpoint
    run = _run([0.0, 0.0, 0.0], [0.8, 0.1, 0.1])
    assert predictor.document_probabilities(run, ngram_weight=0.0).tolist() == pytest.approx([1 / 3] * 3)
    assert predictor.document_probabilities(run, ngram_weight=1.0).tolist() == pytest.approx([0.8, 0.1, 0.1])
    assert predictor.document_probabilities(run)[0] == pytest.approx(0.8**0.5 / (0.8**0.5 + 2 * 0.1**0.5))
    # a transformer that knows nothing beside n-grams that are right: all weight on the n-grams
    runs = [_run([0.0, 0.0, 0.0], np.eye(3)[g] * 0.9 + 0.05) for g in (0, 1, 2, 0)]
    assert fit_ngram_weight(predictor, runs, [0, 1, 2, 0]) == 1.0
    runs = [_run(np.eye(3)[g] * 4, [1 / 3] * 3) for g in (0, 1, 2, 0)]
    assert fit_ngram_weight(predictor, runs, [0, 1, 2, 0]) == 0.0


def test_ngram_weight_follows_length_and_has_its_own_value_without_punctuation():
    settings = {"ngram_weight_by_words": [[10, 0.0], [50, 0.8]], "ngram_weight_no_punctuation": 0.5}
    predictor = Predictor(None, None, settings, "cpu", ngrams=object())
    words = lambda n, end=".": " ".join(["pier"] * n) + end
    weight = lambda text: predictor.ngram_weight(_run([0.0] * 3, [1 / 3] * 3, text))
    assert weight(words(5)) == 0.0
    assert weight(words(30)) == pytest.approx(0.4)
    assert weight(words(49, ", " + words(50))) == 0.8
    assert weight(words(100, "")) == 0.5  # flagged no-punctuation
    assert Predictor(None, None, settings, "cpu", ngrams=None).ngram_weight(_run([0.0] * 3, [1 / 3] * 3)) == 0.0


def test_ngram_weights_are_fitted_per_length_and_on_stripped_text():
    from training.evaluate import fit_ngram_weights

    predictor = Predictor(None, None, {}, "cpu", ngrams=object())
    gold = [0, 1, 2, 0]
    short = [_run(np.eye(3)[g] * 4, [1 / 3] * 3, "A short one.") for g in gold]  # the transformer knows
    long = [_run([0.0] * 3, np.eye(3)[g] * 0.9 + 0.05, "Words, " * 100) for g in gold]  # the n-grams know
    stripped = [_run(np.eye(3)[g] * 4, [1 / 3] * 3, "words " * 100) for g in gold]
    by_words, no_punctuation = fit_ngram_weights(predictor, short + long, gold + gold, stripped)
    assert by_words == [[3, 0.0], [100, 1.0]]
    assert no_punctuation == 0.0


def test_shipped_model_mixes_ngrams_into_documents_not_sentences(predictor, monkeypatch):
    run = predictor.run([ARTICLE])[0]
    assert predictor.ngrams is not None and 0 < predictor.ngram_weight(run) < 1
    mixed = predictor.assemble(run, want_artifacts=False)
    monkeypatch.setattr(predictor, "ngram_weight_by_words", [(0, 0.0)])
    alone = predictor.assemble(run, want_artifacts=False)
    assert mixed.probabilities != pytest.approx(alone.probabilities, abs=1e-3)
    assert mixed.sentences == alone.sentences
