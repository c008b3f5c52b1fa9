import numpy as np
import pytest

from training.evaluate import choose_min_words, truncate
from training.metrics import (budget_excess, cell_balanced, cell_recall, char_prf, expected_calibration_error, human_fpr,
                              mixed_sentence_figures, paired_drop)
from training.yardstick import smallest_bar


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


def test_machine_bar_keeps_human_false_positives_under_one_percent():
    rng = np.random.default_rng(0)
    probs = []
    for i in range(400):  # human docs: 10% wrongly called MT, with confidence spread over 0.4-0.9
        wrong = i % 10 == 0
        c = 0.4 + 0.5 * rng.random() if wrong else 0.9
        probs.append([1 - c, c, 0.0] if wrong else [c, 1 - c, 0.0])
    probs = np.array(probs)
    t = smallest_bar(probs, probs.argmax(1) != 0, budget=0.01)
    machine = (probs.argmax(1) != 0) & (probs.max(1) >= t)
    assert machine.mean() <= 0.01 and t > 0.34


def row(label, source, system=None, kind="human"):
    return {"label": label, "source": source, "system": system, "kind": kind}


def test_cell_balanced_recall_weighs_a_small_hard_cell_as_much_as_a_big_easy_one():
    rows = [row("machine-translated", "wmt", "big", "mt")] * 90 + [row("ai-rewritten", "news", "claude", "llm-rewrite")] * 10
    pred = [1] * 90 + [2] * 2 + [0] * 8
    cells = cell_recall(rows, pred)
    assert cells["ai-rewritten / news / claude"] == {"n": 10, "recall": 0.2}
    balanced = cell_balanced(cells)
    assert balanced["recall"] == pytest.approx(0.6) and balanced["worst_cell"] == "ai-rewritten / news / claude"
    assert np.mean(np.array(pred) == np.array([1] * 90 + [2] * 10)) == pytest.approx(0.92)  # what one number hides
    assert cell_balanced(cell_recall(rows[:95], pred[:95]))["cells"] == 1  # 5 documents: listed, not averaged


def test_mixed_documents_sentence_f1_counts_only_the_labels_their_sentences_have():
    # rewrites only: one original sentence called machine-translated must not add a label at F1 0
    gold, pred = [0, 0, 0, 0, 2, 2, 2, 2], [0, 0, 0, 1, 2, 2, 2, 2]
    figures = mixed_sentence_figures(gold, pred)
    assert figures["labels"] == ["original", "ai-rewritten"]
    assert figures["macro_f1"] == pytest.approx((6 / 7 + 1) / 2)  # over three labels it would be (6/7 + 0 + 1) / 3
    assert (figures["original_kept"], figures["machine_found"]) == (0.75, 1.0)
    assert mixed_sentence_figures([2, 2], [2, 2])["macro_f1"] is None  # no original part: nothing to measure


def test_label_balanced_recall_weighs_each_label_as_much_however_many_cells_it_has():
    rows = ([row("machine-translated", "wmt", f"engine{i}", "mt") for i in range(3) for _ in range(10)]
            + [row("ai-rewritten", "news", "claude", "llm-rewrite")] * 10)
    pred = [1] * 30 + [2] * 2 + [0] * 8  # three easy MT cells, one hard rewrite cell
    balanced = cell_balanced(cell_recall(rows, pred))
    assert balanced["recall"] == pytest.approx((3 * 1.0 + 0.2) / 4)
    assert balanced["by_label"] == {"ai-rewritten": pytest.approx(0.2), "machine-translated": pytest.approx(1.0)}
    assert balanced["label_balanced"] == pytest.approx(0.6)


def test_budgets_are_per_human_cell_and_looser_for_human_translations():
    rows = [row("original", "news")] * 20 + [row("original", "wmt", None, "human-translation")] * 20
    assert budget_excess(rows, [0] * 19 + [1] + [0] * 17 + [1] * 3) == 0  # 5% and 15%
    assert budget_excess(rows, [0] * 18 + [1] * 2 + [0] * 20) == pytest.approx(0.05)  # 10% of English originals
    assert budget_excess(rows, [0] * 20 + [0] * 16 + [1] * 4) == pytest.approx(0.05)  # 20% of human translations
    assert budget_excess(rows, [0] * 20 + [0] * 16 + [1] * 4, translations=False) == 0  # the English cells alone


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


def test_perturbed_table_shows_human_text_given_a_machine_label():
    import json

    from training.render import markdown_report

    report = json.loads(open("docs/experiments/stage6-report.json").read())
    report["perturbation_human_flagged"] = {k: 0.05 for k in report["perturbation_accuracy"] if k not in ("n", "largest_drop")}
    report["perturbation_human_flagged"]["stripped punctuation"] = 0.064
    table = markdown_report(report).split("## Perturbed test documents")[1]
    assert "| human-written given a machine label |" in table
    assert next(line for line in table.splitlines() if line.startswith("| stripped punctuation |")).endswith(" 6.4% |")
