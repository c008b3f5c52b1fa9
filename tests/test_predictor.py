import json
import re

import pytest

from conftest import ARTICLE
from model import Prediction
from model.labels import LABELS

LABELS_OUT = set(LABELS) | {"uncertain"}


def test_empty_input_gives_empty_output(predictor):
    assert predictor.predict([]) == []


def test_a_string_is_refused_with_a_pointer_to_predict_one(predictor):
    with pytest.raises(TypeError, match="predict_one"):
        predictor.predict(ARTICLE)


@pytest.mark.parametrize("texts, error, message", [
    ([ARTICLE, None], TypeError, r"texts\[1\] is NoneType, not str"),
    ([123], TypeError, r"texts\[0\] is int, not str"),
])
def test_inputs_that_are_not_strings_are_named(predictor, texts, error, message):
    with pytest.raises(error, match=message):
        predictor.predict(texts)


def test_batch_size_must_be_positive(predictor):
    with pytest.raises(ValueError, match="batch_size must be a whole number of at least 1, not 0"):
        predictor.predict([ARTICLE], batch_size=0)


def test_prediction_shape_and_order(predictor):
    texts = [ARTICLE, "A short line about the harbour.", ARTICLE.upper()]
    out = predictor.predict(texts)
    assert len(out) == 3 and all(isinstance(p, Prediction) for p in out)
    for text, p in zip(texts, out):
        assert p.label in LABELS_OUT
        assert set(p.probabilities) == set(LABELS)
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        for s in p.sentences:
            assert text[s.start:s.end] == s.text and s.label in LABELS
            assert sum(s.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        for a in p.artifacts:
            assert text[a.start:a.end] == a.text and 0 <= a.score <= 1
    # batching does not change answers
    alone = predictor.predict_one(texts[1])
    assert alone.probabilities == pytest.approx(out[1].probabilities, abs=1e-4)


def test_long_documents_are_covered_to_the_end(predictor):
    text = "\n\n".join([ARTICLE] * 30) + "\n\nThe very last sentence mentions a lighthouse."
    p = predictor.predict_one(text)
    assert len(p.sentences) == 5 * 30 + 1
    assert p.sentences[-1].text == "The very last sentence mentions a lighthouse."
    assert p.sentences[-1].end == len(text)


def test_evasion_characters_are_artifacts_with_offsets_into_the_input(predictor):
    text = "The c\u043euncil v\u200boted on Tuesday to keep the pier open. " + ARTICLE
    p = predictor.predict_one(text)
    found = {(a.kind, a.text, a.start) for a in p.artifacts if a.kind not in ("mistranslation", "untranslated")}
    assert found == {("homoglyph", "\u043e", 5), ("invisible character", "\u200b", 13)}
    assert p.sentences[0].text == "The c\u043euncil v\u200boted on Tuesday to keep the pier open."


def test_odd_casing_of_words_the_text_writes_otherwise_does_not_move_the_verdict(predictor):
    cased = ARTICLE.replace("voted on", "VOTED on").replace("the boat", "tHe boat").replace("the town", "THE town")
    p, clean = predictor.predict_one(cased), predictor.predict_one(ARTICLE)
    assert p.probabilities == pytest.approx(clean.probabilities, abs=1e-5)
    found = [(a.text, a.start) for a in p.artifacts if a.kind == "odd casing"]
    assert found == [("VOTED", cased.index("VOTED")), ("tHe", cased.index("tHe")), ("THE", cased.index("THE"))]


def test_flags_for_short_and_foreign_text(predictor):
    german = "Der Stadtrat hat am Dienstag beschlossen, den alten Fähranleger auch im Winter geöffnet zu lassen."
    assert "not-english" in predictor.predict_one(german).flags
    short = predictor.predict_one("Ferry stays open.")
    assert "too-short" in short.flags and "not-english" not in predictor.predict_one(ARTICLE).flags


def test_text_stripped_of_its_punctuation_is_flagged(predictor):
    stripped = re.sub(r"[^\w\s]", "", ARTICLE)
    assert "no-punctuation" in predictor.predict_one(stripped).flags
    assert "no-punctuation" not in predictor.predict_one(ARTICLE).flags


def test_uncertain_threshold_override(predictor):
    p = predictor.predict_one(ARTICLE, threshold=1.01)
    assert p.label == "uncertain" and sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert predictor.predict_one(ARTICLE, threshold=0.0).label in LABELS


def test_only_the_bar_of_the_predicted_label_makes_it_uncertain(predictor, monkeypatch):
    label = predictor.predict_one(ARTICLE, threshold=0.0).label
    own, other = ("original_bar", "machine_bar") if label == "original" else ("machine_bar", "original_bar")
    calibration = predictor.calibration
    monkeypatch.setattr(predictor, "calibration", calibration.replace(**{own: 0.0, other: 1.01}))
    assert predictor.predict_one(ARTICLE).label == label
    monkeypatch.setattr(predictor, "calibration", calibration.replace(**{own: 1.01, other: 0.0}))
    assert predictor.predict_one(ARTICLE).label == "uncertain"


def test_to_dict_is_json_ready(predictor):
    d = predictor.predict_one(ARTICLE).to_dict()
    back = json.loads(json.dumps(d))
    assert set(back) >= {"label", "probabilities", "sentences", "artifacts", "flags"}
    assert set(back["sentences"][0]) == {"text", "start", "end", "label", "probabilities"}


def test_shipped_checkpoint_holds_labels_its_calibration_and_lineage(predictor):
    s = predictor.settings
    assert s["labels"] == list(LABELS) and s["base"] == "e5-small"
    c = predictor.calibration  # chosen by training/yardstick.py, used by every prediction
    assert c.to_dict() == s["calibration"]
    assert 0.3 < c.temperature < 10 and 1 / 3 <= c.machine_bar < 1 and 1 / 3 <= c.original_bar < 1 and c.min_words > 0
    assert [stage["stage"] for stage in s["lineage"]].count("calibration") >= 1


def test_the_fast_model_is_found_by_name_and_is_a_smaller_network(tmp_path, monkeypatch):
    from model import Predictor
    from model.checkpoint import WEIGHTS_FILE, read_settings
    from model.predictor import NAMED, SHIPPED, model_path

    assert model_path() == SHIPPED and model_path("fast") == NAMED["fast"]
    (tmp_path / "fast").mkdir()
    monkeypatch.chdir(tmp_path)
    assert model_path("fast") == tmp_path.joinpath("fast").relative_to(tmp_path)  # a folder of that name wins
    monkeypatch.undo()
    settings = read_settings(NAMED["fast"])
    assert settings["encoder_layers"] < 12 and "distill" in [stage["stage"] for stage in settings["lineage"]]
    assert (NAMED["fast"] / WEIGHTS_FILE).stat().st_size < 0.5 * (SHIPPED / WEIGHTS_FILE).stat().st_size
    p = Predictor.load("fast", backend="torch").predict_one(ARTICLE)
    assert p.label in LABELS or p.label == "uncertain"
    assert p.sentences and sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
