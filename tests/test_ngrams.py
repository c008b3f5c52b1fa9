import numpy as np
import pytest

from conftest import ARTICLE
from model.calibration import Calibration
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
    from model import checkpoint
    from model.labels import LABELS

    (tmp_path / checkpoint.CONFIG_FILE).write_text(f'{{"schema": {checkpoint.SCHEMA}, "labels": {list(LABELS)}, "lineage": []}}'.replace("'", '"'))
    model = CharNgrams.fit(STYLES * 4, [0, 1, 2] * 4)
    checkpoint.write_ngrams(tmp_path, model.arrays(), {"stage": "ngrams"})
    assert checkpoint.read_settings(tmp_path)["lineage"] == [{"stage": "ngrams"}]
    loaded = CharNgrams.load(tmp_path)
    probs = loaded.probabilities(STYLES)
    assert probs.argmax(1).tolist() == [0, 1, 2]
    assert probs.sum(1) == pytest.approx(np.ones(3), abs=1e-6)
    assert probs == pytest.approx(model.probabilities(STYLES), abs=1e-3)  # fp16 on disk
    assert loaded.probabilities([]).shape == (0, 3)


def test_hashed_ngrams_are_scikit_learns_and_so_are_the_probabilities():
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression

    from model.ngrams import MAX_CHARS, N_FEATURES, NGRAM_RANGE, _counts

    texts = [*STYLES, ARTICLE, "Ein  Fähranleger\tam Hafen,\n\nI a ab abc Ü é 5-2 ’s", "", "x" * (MAX_CHARS + 50)]
    hasher = HashingVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, n_features=N_FEATURES,
                               alternate_sign=False, norm=None, dtype=np.float32)
    reference = hasher.transform([t[:MAX_CHARS] for t in texts])
    assert (_counts(texts) != reference).nnz == 0
    tfidf = TfidfTransformer(sublinear_tf=True).fit(reference)
    clf = LogisticRegression(max_iter=300).fit(tfidf.transform(reference[:3]), [0, 1, 2])
    model = CharNgrams(tfidf.idf_, clf.coef_, clf.intercept_)
    assert model.probabilities(texts) == pytest.approx(clf.predict_proba(tfidf.transform(reference)), abs=1e-6)


def test_a_checkpoint_without_ngrams_has_none(tmp_path):
    assert CharNgrams.load(tmp_path) is None


def _run(window_logits, ngram_probs):
    window = Window(input_ids=[0, 5, 1], token_spans=[(0, 4)], sentence_ids=[0])
    return DocumentRun("text", None, [(0, 4)], [window], [(np.array(window_logits), None, None)],
                       np.array(ngram_probs))


def test_ngram_weight_mixes_the_two_verdicts():
    calibration = Calibration(ngram_weight=0.5)
    predictor = Predictor(None, None, {}, ngrams=object(), calibration=calibration)
    run = _run([0.0, 0.0, 0.0], [0.8, 0.1, 0.1])
    assert predictor.document_probabilities(run, calibration.replace(ngram_weight=0.0)).tolist() == pytest.approx([1 / 3] * 3)
    assert predictor.document_probabilities(run, calibration.replace(ngram_weight=1.0)).tolist() == pytest.approx([0.8, 0.1, 0.1])
    assert predictor.document_probabilities(run)[0] == pytest.approx(0.8**0.5 / (0.8**0.5 + 2 * 0.1**0.5))


def test_calibration_recovers_an_under_called_label_within_the_human_budget():
    from training.yardstick import fit_calibration

    def rows(label, source, system, kind, n):
        return [{"label": label, "source": source, "system": system, "kind": kind}] * n

    docs = (rows("original", "news", None, "human", 40) + rows("machine-translated", "wmt", "x", "mt", 40)
            + rows("ai-rewritten", "news", "llm", "llm-rewrite", 40))
    logits = [[2.0, 0.0, 0.0]] * 40 + [[1.0, 0.8, 0.0]] * 40 + [[0.0, 0.0, 2.0]] * 40  # MT read as original, narrowly
    predictor = Predictor(None, None, {})
    chosen = fit_calibration(predictor, [_run(l, [1 / 3] * 3) for l in logits], docs, log=lambda _: None)
    assert chosen.label_prior[0] == 1.0 and chosen.label_prior[1] > 1.0
    probs = np.stack([predictor.document_probabilities(_run(l, [1 / 3] * 3), chosen) for l in logits])
    assert (probs.argmax(1) == [0] * 40 + [1] * 40 + [2] * 40).all()
    assert 1 / 3 <= chosen.machine_bar < 1 and 1 / 3 <= chosen.original_bar < 1


def test_calibration_is_not_held_back_by_human_translations_that_read_as_mt():
    from training.yardstick import fit_calibration

    def rows(label, source, kind, n):
        return [{"label": label, "source": source, "system": None if label == "original" else "x", "kind": kind}] * n

    docs = (rows("original", "news", "human", 40) + rows("original", "wmt", "human-translation", 40)
            + rows("machine-translated", "wmt", "mt", 40) + rows("ai-rewritten", "news", "llm-rewrite", 40))
    # MT and human translations read alike, both narrowly original: any prior that recovers the MT
    # flags the translations too, which the English-original budgets do not forbid
    logits = [[2.0, 0.0, 0.0]] * 40 + [[1.0, 0.8, 0.0]] * 80 + [[0.0, 0.0, 2.0]] * 40
    predictor = Predictor(None, None, {})
    chosen = fit_calibration(predictor, [_run(l, [1 / 3] * 3) for l in logits], docs, log=lambda _: None)
    probs = np.stack([predictor.document_probabilities(_run(l, [1 / 3] * 3), chosen) for l in logits])
    assert (probs.argmax(1)[:40] == 0).all() and (probs.argmax(1)[80:120] == 1).all()


class MachineLeaning:
    """A stand-in n-gram model that reads every text as machine-translated."""

    def probabilities(self, texts):
        return np.array([[0.05, 0.9, 0.05]] * len(texts))


def test_an_ngram_model_beside_the_network_moves_documents_not_sentences(predictor, monkeypatch):
    monkeypatch.setattr(predictor, "ngrams", MachineLeaning())
    monkeypatch.setattr(predictor, "calibration", predictor.calibration.replace(ngram_weight=0.5))
    run = predictor.run([ARTICLE])[0]
    mixed = predictor.assemble(run, want_artifacts=False)
    monkeypatch.setattr(predictor, "calibration", predictor.calibration.replace(ngram_weight=0.0))
    alone = predictor.assemble(run, want_artifacts=False)
    assert mixed.probabilities["machine-translated"] > alone.probabilities["machine-translated"] + 0.05
    assert mixed.sentences == alone.sentences
