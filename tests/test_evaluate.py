import numpy as np
import pytest

from training.evaluate import (char_prf, choose_min_words, expected_calibration_error, fit_label_prior,
                               fit_original_threshold, fit_uncertain_threshold, human_fpr, paired_drop, truncate)


def test_ece_is_zero_when_confidence_matches_accuracy_and_positive_when_overconfident():
    probs = np.array([[0.75, 0.25, 0.0]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1]))[0] == pytest.approx(0.0)
    assert expected_calibration_error(probs, np.array([1, 1, 0, 1]))[0] == pytest.approx(0.5)


def test_character_level_artifact_scores():
    text = "an outcome lock was imposed"
    gold = [[(3, 15)]]  # "outcome lock"
    assert char_prf(gold, [[(3, 15)]], [text])["f1"] == pytest.approx(1.0)
    half = char_prf(gold, [[(3, 10)]], [text])  # "outcome": 7 of 11 gold letters, all predicted right
    assert half["precision"] == pytest.approx(1.0) and half["recall"] == pytest.approx(7 / 11)
    assert char_prf(gold, [[]], [text])["f1"] == 0.0


def test_uncertain_threshold_keeps_human_false_positives_under_one_percent():
    rng = np.random.default_rng(0)
    rows, probs = [], []
    for i in range(400):  # human docs: 10% wrongly called MT, with confidence spread over 0.4-0.9
        wrong = i % 10 == 0
        c = 0.4 + 0.5 * rng.random() if wrong else 0.9
        probs.append([1 - c, c, 0.0] if wrong else [c, 1 - c, 0.0])
        rows.append({"label": "original", "kind": "human"})
    probs = np.array(probs)
    t = fit_uncertain_threshold(probs, rows, budget=0.01)
    machine = (probs.argmax(1) != 0) & (probs.max(1) >= t)
    assert machine.mean() <= 0.01 and t > 0.34


def test_label_prior_recovers_under_called_translations_without_flagging_more_human_text():
    human = [[0.7, 0.3, 0.0]] * 90 + [[0.4, 0.6, 0.0]] * 10  # 10% of human docs called MT
    translated = [[0.55, 0.45, 0.0]] * 50 + [[0.1, 0.9, 0.0]] * 50  # half of MT called original, narrowly
    rewritten = [[0.1, 0.0, 0.9]] * 100
    probs = np.array(human + translated + rewritten)
    rows = [{"label": l} for l in ["original"] * 100 + ["machine-translated"] * 100 + ["ai-rewritten"] * 100]
    prior = fit_label_prior(probs, rows)
    pred = (probs * prior).argmax(1)
    assert prior[0] == 1.0 and prior[1] > 1.0
    assert (pred[100:200] == 1).all()  # every translation recovered
    assert (pred[:100] != 0).mean() <= 0.10  # human text no more flagged than before


def test_original_threshold_keeps_machine_text_called_original_under_five_percent():
    rng = np.random.default_rng(0)
    probs = []
    for i in range(400):  # machine-made docs: 20% wrongly called original, with confidence spread over 0.4-0.95
        c = 0.4 + 0.55 * rng.random()
        probs.append([c, 1 - c, 0.0] if i % 5 == 0 else [0.05, 0.95, 0.0])
    probs = np.array(probs)
    t = fit_original_threshold(probs, [{"label": "machine-translated"}] * 400, budget=0.05)
    called_original = (probs.argmax(1) == 0) & (probs.max(1) >= t)
    assert 0.04 <= called_original.mean() <= 0.05 and t > 0.34


def test_human_fpr_by_kind_ignores_uncertain():
    rows = [{"label": "original", "kind": "human"}, {"label": "original", "kind": "human-translation"},
            {"label": "original", "kind": "human"}, {"label": "ai-rewritten", "kind": "llm-rewrite"}]
    fpr = human_fpr(rows, [1, 0, -1, 2])  # -1 = uncertain
    assert fpr["all"] == {"fpr": 1 / 3, "n": 3} and fpr["human"]["fpr"] == 0.5
    assert fpr["human-translation"]["fpr"] == 0.0


def test_length_buckets():
    text = " ".join(f"Sentence {i} has exactly six words." for i in range(100))
    assert truncate(text, "1 sentence") == "Sentence 0 has exactly six words."
    assert truncate(text, "2-3 sentences").count(".") == 3
    assert 50 <= len(truncate(text, "~50 words").split()) < 56
    assert truncate(text, "500+ words") == text and truncate("Too short.", "~100 words") is None
    rows = {"1 sentence": {"accuracy": 0.5, "median_words": 20}, "~50 words": {"accuracy": 0.88, "median_words": 52},
            "500+ words": {"accuracy": 0.95, "median_words": 700}}
    assert choose_min_words(rows) == 52


def test_perturbation_drop_interval_is_narrow_when_documents_agree_and_covers_zero_for_no_change():
    clean = [True] * 90 + [False] * 10
    worse = [True] * 85 + [False] * 15  # the same documents, five more wrong
    drop = paired_drop(clean, worse)
    assert drop["drop"] == pytest.approx(0.05)
    assert 0.0 < drop["ci95"][0] < 0.05 < drop["ci95"][1] < 0.1
    swapped = paired_drop([True, False] * 50, [False, True] * 50)  # same accuracy, every verdict changed
    assert swapped["drop"] == 0.0 and swapped["ci95"][0] < -0.1 and swapped["ci95"][1] > 0.1


def test_perturbed_table_shows_human_text_given_a_machine_label_when_the_report_has_it():
    import json

    from training.evaluate import markdown_report

    report = json.loads(open("model/weights/report.json").read())
    report.pop("perturbation_human_flagged", None)
    assert "human-written given a machine label" not in markdown_report(report)  # an older report, as it was
    report["perturbation_human_flagged"] = {k: 0.05 for k in report["perturbation_accuracy"] if k not in ("n", "largest_drop")}
    report["perturbation_human_flagged"]["stripped punctuation"] = 0.064
    table = markdown_report(report).split("## Perturbed test documents")[1]
    assert "| human-written given a machine label |" in table
    assert next(line for line in table.splitlines() if line.startswith("| stripped punctuation |")).endswith(" 6.4% |")
