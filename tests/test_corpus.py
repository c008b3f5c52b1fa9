import gzip
import json
import random
from types import SimpleNamespace
from unittest.mock import patch

import pytest

from model.labels import IGNORE, LABEL2ID
from model.text import split_sentences
from training.corpus import (Collator, build_examples, changed_words, document_examples, labelled_regions,
                             load_docs, load_splits, sampling_weights, split_docs)
from training.config import TrainConfig
from training.perturb import AUGMENTATIONS

ORIGINAL = "The mayor opened the new bridge on Monday. It cost four million dollars. Traffic was light."
ROUND_TRIP = "The mayor inaugurated the new bridge on Monday. It cost four million dollars. The traffic was mild."


def doc(i, group, label, kind, source, text, system=None, aligned=None):
    return {"id": f"d{i}", "group": group, "label": label, "kind": kind, "source": source, "system": system,
            "text": text, "aligned": aligned}


def write_corpus(path, extra=()):
    pairs = [[a, b] for a, b in zip(
        ["The mayor opened the new bridge on Monday.", "It cost four million dollars.", "Traffic was light."],
        ["The mayor inaugurated the new bridge on Monday.", "It cost four million dollars.", "The traffic was mild."])]
    rows = []
    for g in range(8):
        rows += [doc(3 * g, f"g{g}", "original", "human", "news", ORIGINAL),
                 doc(3 * g + 1, f"g{g}", "machine-translated", "mt-roundtrip", "news", ROUND_TRIP, "ft", pairs),
                 doc(3 * g + 2, f"g{g}", "ai-rewritten", "llm-rewrite", "news",
                     "In a landmark moment, the mayor unveiled a stunning new bridge on Monday.", "gpt")]
    rows += list(extra)
    path.mkdir(exist_ok=True)
    (path / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_split_never_separates_a_group(tmp_path):
    docs = load_docs(write_corpus(tmp_path / "c"))
    splits = split_docs(docs, (0.5, 0.25, 0.25), seed=3)
    assert sum(len(s) for s in splits.values()) == len(docs)
    owner = {}
    for name, part in splits.items():
        for g in part["group"]:
            assert owner.setdefault(g, name) == name


def test_ood_sources_take_their_whole_groups_out_of_every_other_split(tmp_path):
    extra = [doc(90, "g1", "ai-rewritten", "llm-rewrite", "l2r", "A rewrite from another collection.", "gpt-x"),
             doc(91, "gz", "original", "human", "l2r", "An original from another collection.")]
    docs = load_docs(write_corpus(tmp_path / "c", extra))
    splits = split_docs(docs, (0.5, 0.25, 0.25), seed=3, ood_sources=("l2r",))
    assert sorted(splits["ood"]["group"]) == ["g1"] * 4 + ["gz"]  # g1's news versions go with its l2r rewrite
    assert all("g1" not in splits[name]["group"] for name in ("train", "validation", "test"))


def test_unknown_label_is_refused(tmp_path):
    bad = doc(99, "gx", "human-written", "human", "news", "Some text.")
    with pytest.raises(ValueError, match="unknown label"):
        load_docs(write_corpus(tmp_path / "c", [bad]))


def test_round_trip_labels_changed_words_and_skips_unchanged_sentences(tokenizer):
    assert [ROUND_TRIP[s:e] for s, e in changed_words(ORIGINAL, ROUND_TRIP)] == \
        ["inaugurated", "The", "mild."]
    row = doc(1, "g", "machine-translated", "mt-roundtrip", "news", ROUND_TRIP, "ft",
              [["The mayor opened the new bridge on Monday.", "The mayor inaugurated the new bridge on Monday."],
               ["It cost four million dollars.", "It cost four million dollars."]])
    artifacts, unchanged, known = labelled_regions(row)
    assert known and [ROUND_TRIP[s:e] for s, e in unchanged] == ["It cost four million dollars."]
    cfg = SimpleNamespace(max_length=128, stride=96)
    window, _ = document_examples(row, tokenizer, cfg, random.Random(0))
    mt = LABEL2ID["machine-translated"]
    assert window["labels"] == mt
    assert window["sentence_labels"] == [mt, IGNORE, mt]  # the sentence MT returned unchanged is no example
    flagged = {tokenizer.convert_ids_to_tokens(t) for t, lab in zip(window["input_ids"], window["token_labels"]) if lab == 1}
    assert "▁in" in flagged or "▁inaugur" in flagged or any("augur" in t for t in flagged)
    assert len(window["token_labels"]) == len(window["input_ids"]) == len(window["sentence_ids"])


def test_sampling_balances_labels_and_groups(tmp_path):
    wmt = [doc(100 + i, "wmt-g", "machine-translated", "mt", "wmt", f"System output {i}.", f"sys{i}") for i in range(20)]
    docs = load_docs(write_corpus(tmp_path / "c", wmt))
    w = sampling_weights(docs, {"original": 0.5, "machine-translated": 0.25, "ai-rewritten": 0.25})
    by_label = {}
    for weight, label in zip(w, docs["label"]):
        by_label[label] = by_label.get(label, 0) + weight
    assert by_label == pytest.approx({"original": 0.5, "machine-translated": 0.25, "ai-rewritten": 0.25})
    wmt_weights = [x for x, k in zip(w, docs["kind"]) if k == "mt"]
    assert sum(wmt_weights) == pytest.approx(0.125)  # mt and round trip share the MT label evenly
    assert len(set(round(x, 12) for x in wmt_weights)) == 1  # 20 systems of one group share its weight


def test_systems_of_a_source_share_it_evenly_however_many_documents_each_has(tmp_path):
    many = [doc(200 + i, f"big{i}", "ai-rewritten", "llm-rewrite", "news", f"Rewrite {i}.", "big-llm") for i in range(30)]
    docs = load_docs(write_corpus(tmp_path / "c", many))
    w = sampling_weights(docs, {"original": 0.5, "machine-translated": 0.25, "ai-rewritten": 0.25})
    share = {}
    for weight, system in zip(w, docs["system"]):
        share[system] = share.get(system, 0) + weight
    assert share["gpt"] == pytest.approx(share["big-llm"]) == pytest.approx(0.125)


def test_mixed_documents_label_each_sentence_by_its_part(tokenizer):
    from training.corpus import mixed_document

    original = "The mayor opened the bridge.\n\nCrowds cheered loudly.\n\nThe band played all night."
    machine = "The mayor inaugurated the bridge.\n\nThe crowds cheered strongly.\n\nThe band played the whole night."
    text, machine_from = mixed_document(original, machine, random.Random(1))
    assert text.startswith("The mayor opened the bridge.") and text.endswith("The band played the whole night.")
    assert text[:machine_from].strip() in original and text[machine_from:] in machine
    row = doc(1, "g", "machine-translated", "mt-roundtrip", "news", machine, "ft")
    cfg = SimpleNamespace(max_length=128, stride=96, mixed=1.0)
    window, _ = document_examples(row, tokenizer, cfg, random.Random(1), originals={"g": original})
    mt, orig = LABEL2ID["machine-translated"], LABEL2ID["original"]
    head = sum(1 for s, _ in split_sentences(text) if s < machine_from)
    assert window["labels"] == mt and window["sentence_labels"] == [orig] * head + [mt] * (3 - head)
    assert 1 <= head <= 2


def test_build_examples_is_seeded(tmp_path, tokenizer):
    docs = load_docs(write_corpus(tmp_path / "c"))
    cfg = SimpleNamespace(max_length=64, stride=48, mixed=0.5, label_weights={
        "original": 0.4, "machine-translated": 0.3, "ai-rewritten": 0.3})
    a = build_examples(docs, tokenizer, cfg, 10, seed=1)
    b = build_examples(docs, tokenizer, cfg, 10, seed=1)
    assert a["input_ids"] == b["input_ids"] and len(a) >= 10


def test_pairs_put_a_machine_text_beside_the_human_version_of_the_same_text(tmp_path, tokenizer):
    docs = load_docs(write_corpus(tmp_path / "c"))
    cfg = SimpleNamespace(max_length=64, stride=48, mixed=0.0, label_weights={
        "original": 0.4, "machine-translated": 0.3, "ai-rewritten": 0.3})
    examples = build_examples(docs, tokenizer, cfg, 4, seed=1, n_pairs=6)
    pairs = [e for e in examples if e["partner_labels"] != IGNORE]
    assert len(pairs) >= 6 and all(e["partner_labels"] == LABEL2ID["original"] for e in pairs)
    assert {e["labels"] for e in pairs} == {LABEL2ID["machine-translated"], LABEL2ID["ai-rewritten"]}

    def text(ids):  # the converted base's tokenizer decodes pieces with their word marks
        return tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "").replace("▁", " ").strip()

    texts = {(text(e["input_ids"]), text(e["partner_input_ids"])) for e in pairs}
    # a round trip's differing sentence beside the sentence it came from; never an unchanged one
    assert ("The traffic was mild.", "Traffic was light.") in texts
    assert not any(m == "It cost four million dollars." for m, _ in texts)

    batch = Collator(tokenizer.pad_token_id)(list(examples))
    paired = batch["pair_with"] >= 0
    assert paired.sum() == len(pairs) and len(batch["labels"]) == len(examples) + len(pairs)
    assert (batch["labels"][batch["pair_with"][paired]] == LABEL2ID["original"]).all()
    assert (batch["labels"][paired] != LABEL2ID["original"]).all()


def test_augmented_copy_keeps_artifact_labels_on_their_words(tokenizer):
    pairs = [["The mayor opened the new bridge on Monday.", "The mayor inaugurated the new bridge on Monday."]]
    row = doc(1, "g", "machine-translated", "mt-roundtrip", "news", pairs[0][1], "ft", pairs)
    cfg = SimpleNamespace(max_length=128, stride=96, augmentations=tuple(AUGMENTATIONS))
    texts = set()
    for seed in range(6):  # several draws of casing / punctuation attacks
        window, lone = document_examples(row, tokenizer, cfg, random.Random(seed), augment=1.0)
        texts.add(tokenizer.decode(window["input_ids"], skip_special_tokens=True))
        flagged = "".join(tokenizer.convert_ids_to_tokens(t) for t, lab in
                          zip(window["input_ids"], window["token_labels"]) if lab == 1)
        assert flagged.replace("▁", "").lower() == "inaugurated"
        assert window["labels"] == lone["labels"] == LABEL2ID["machine-translated"]
    assert len(texts - {pairs[0][1]}) >= 2  # the windows come from perturbed copies


def test_perturbed_copy_can_come_beside_the_clean_document(tokenizer):
    text = "The mayor opened the new bridge on Monday. Crowds cheered, and the band played."
    row = doc(1, "g", "original", "human", "news", text)
    cfg = SimpleNamespace(max_length=128, stride=96, augmentations=("stripped punctuation",))
    examples = document_examples(row, tokenizer, cfg, random.Random(0), augment=1.0, keep_clean=True)
    windows = ["".join(tokenizer.convert_ids_to_tokens(e["input_ids"][1:-1])).replace("▁", "")
               for e in examples if len(e["sentence_labels"]) == 2]  # not the lone sentences
    assert len(examples) == 4 and len(windows) == 2
    assert windows == [text.replace(" ", ""), text.replace(" ", "").replace(".", "").replace(",", "")]


def test_mqm_major_keeps_only_the_major_errors(tmp_path):
    from training.artifact_head import source_texts
    from training.corpus import load_spans

    text = "The minister has visited the flood zone on Tuesday and promised aids."
    row = {"id": "s0", "group": "g0", "source": "wmt21", "system": "X", "text": text, "is_reference": False,
           "spans": [[13, 24, None, "minor"], [64, 68, None, "major"], [5, 5, None, "major"]]}
    with gzip.open(tmp_path / "spans.jsonl.gz", "wt") as f:
        f.write(json.dumps(row) + "\n")
    spans = load_spans(tmp_path)
    cfg = SimpleNamespace(split={"train": 1.0}, seed=0, max_docs=0)
    assert spans[0]["major"] == [False, True, True]
    with patch("training.artifact_head.split_of", return_value="train"):
        every = source_texts("mqm", "train", {"train": []}, spans, 5, cfg, random.Random(0))
        major = source_texts("mqm-major", "train", {"train": []}, spans, 5, cfg, random.Random(0))
    assert [text[a:b] for a, b in every[0][1]] == ["has visited", "aids"]  # the empty insertion point is dropped
    assert [text[a:b] for a, b in major[0][1]] == ["aids"]


def test_rule_based_round_trips_join_training_only_in_their_originals_groups(tmp_path, monkeypatch):
    # a stand-in for Apertium that marks each paragraph it "translates" with the language pair
    fake = tmp_path / "apertium"
    fake.write_text('#!/bin/sh\nsed "/^§/!s/^./[$2] &/"\n')
    fake.chmod(0o755)
    monkeypatch.setattr("training.roundtrips.COMMAND", (str(fake), "-u"))
    monkeypatch.setenv("TELLTALE_CACHE", str(tmp_path / "cache"))
    corpus = write_corpus(tmp_path / "c")
    plain = load_splits(TrainConfig(corpus=str(corpus), split=(0.5, 0.25, 0.25), seed=3))
    splits = load_splits(TrainConfig(corpus=str(corpus), split=(0.5, 0.25, 0.25), seed=3, rule_based_pivots=("spa",)))
    added = splits["train"].filter(lambda r: r["system"] == "apertium-spa")
    originals = plain["train"].filter(lambda r: r["kind"] == "human")
    assert len(added) == len(originals) > 0
    assert sorted(added["group"]) == sorted(originals["group"])
    assert set(added["label"]) == {"machine-translated"} and set(added["kind"]) == {"mt-roundtrip"}
    assert added[0]["text"].startswith("[spa-eng] [eng-spa] The mayor")
    assert all(len(splits[n]) == len(plain[n]) for n in ("validation", "test", "ood"))


def test_the_held_out_pivot_cannot_be_trained_on():
    with pytest.raises(ValueError, match="held out"):
        TrainConfig(rule_based_pivots=("glg",))


def test_round_trips_without_apertium_say_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr("training.roundtrips.COMMAND", ("telltale-no-such-apertium", "-u"))
    monkeypatch.setenv("TELLTALE_CACHE", str(tmp_path / "cache"))
    corpus = str(write_corpus(tmp_path / "c"))
    with pytest.raises(RuntimeError, match="apt-get install apertium"):
        load_splits(TrainConfig(corpus=corpus, split=(0.5, 0.25, 0.25), seed=3, rule_based_pivots=("spa",)))
