"""The corpus: loading, the group split, balanced sampling and training examples.

Schema (one JSON object per line, gzip or plain): `id`, `group`, `label`, `kind`,
`source`, `system`, `text`, optionally `aligned` (round trips); `spans.jsonl.gz`
optionally adds annotated MT segments (`group`, `system`, `text`, `spans`,
`is_reference`). See the README.
"""
from __future__ import annotations

import difflib
import gzip
import hashlib
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from datasets import Dataset, concatenate_datasets

from model.labels import IGNORE, LABEL2ID, LABELS, ORIGINAL
from model.text import encode_document, split_sentences
from training.perturb import AUGMENTATIONS, perturb
from training.roundtrips import round_trips

DOC_FIELDS = ("id", "group", "label", "kind", "source", "system", "lang", "style", "text", "aligned", "segments")
SPAN_FIELDS = ("id", "group", "source", "system", "text", "spans", "major", "is_reference")
SPLITS = ("train", "validation", "test", "ood")


def _read_jsonl(path: Path, keep: tuple) -> Dataset:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for row in rows:
        if "spans" in row:  # [start, end, category, severity]: Arrow wants one type per list
            row["major"] = [rest[-1:] == ["major"] for _, _, *rest in row["spans"]]
            row["spans"] = [[int(s), int(e)] for s, e, *_ in row["spans"]]
    # Rows differ in their optional fields (segments, title, ...), which datasets' JSON
    # builder refuses; keep the documented ones, with None where a row lacks one.
    return Dataset.from_list([{k: row.get(k) for k in keep} for row in rows])


def load_docs(corpus: str | Path) -> Dataset:
    path = Path(corpus)
    found = [p for p in (path / "docs.jsonl.gz", path / "docs.jsonl") if p.exists()]
    if not found:
        raise FileNotFoundError(f"{corpus}: no docs.jsonl.gz or docs.jsonl")
    docs = _read_jsonl(found[0], DOC_FIELDS)
    bad = set(docs.unique("label")) - set(LABELS)
    if bad:
        raise ValueError(f"{found[0]}: unknown label(s) {sorted(bad)}; expected {LABELS}")
    return docs


def load_spans(corpus: str | Path) -> Dataset | None:
    path = Path(corpus) / "spans.jsonl.gz"
    return _read_jsonl(path, SPAN_FIELDS) if path.exists() else None


def subsample_groups(docs, max_docs: int, seed: int):
    """Keep whole groups, in a seeded random order, until about `max_docs` documents."""
    groups = sorted(set(docs["group"]))
    random.Random(seed).shuffle(groups)
    by_group = {}
    for i, g in enumerate(docs["group"]):
        by_group.setdefault(g, []).append(i)
    keep = []
    for g in groups:
        if len(keep) >= max_docs:
            break
        keep += by_group[g]
    return docs.select(sorted(keep))


def split_of(group: str, shares=(0.8, 0.1, 0.1), seed: int = 13) -> str:
    """The split a group belongs to: a stable hash, so every version of an article goes together."""
    h = int(hashlib.sha1(f"{seed}:{group}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if h < shares[0] else "validation" if h < shares[0] + shares[1] else "test"


def split_docs(docs: Dataset, shares=(0.8, 0.1, 0.1), seed: int = 13, ood_sources=()) -> dict[str, Dataset]:
    """Train / validation / test by group hash; every group that holds a document of one of
    `ood_sources` goes whole to "ood", the out-of-distribution dev set no training run sees."""
    ood_groups = {g for g, source in zip(docs["group"], docs["source"]) if source in ood_sources}
    which = ["ood" if g in ood_groups else split_of(g, shares, seed) for g in docs["group"]]
    return {name: docs.select([i for i, s in enumerate(which) if s == name]) for name in SPLITS}


def load_splits(cfg) -> dict[str, Dataset]:
    """A training config's corpus (cut to `max_docs` whole groups when set), split by group."""
    docs = load_docs(cfg.corpus)
    if cfg.max_docs:
        docs = subsample_groups(docs, cfg.max_docs, cfg.seed)
    splits = split_docs(docs, cfg.split, cfg.seed, cfg.ood_sources)
    if cfg.rule_based_pivots:
        splits["train"] = concatenate_datasets(
            [splits["train"], *(round_trips(splits["train"], pivot) for pivot in cfg.rule_based_pivots)])
    return splits


def cell_of(doc: dict) -> str:
    """The cell a document is scored in: label / source / system (kind for human text)."""
    return f"{doc['label']} / {doc['source']} / {doc['system'] or doc['kind']}"


# --- what is labelled inside a document ------------------------------------

_WORD = re.compile(r"\S+")


def changed_words(original: str, round_trip: str) -> list[tuple[int, int]]:
    """Character spans of the words of `round_trip` that differ from `original`."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(round_trip)]
    ours = [round_trip[s:e].strip(".,;:!?\"'()").lower() for s, e in words]
    theirs = [w.strip(".,;:!?\"'()").lower() for w in original.split()]
    matcher = difflib.SequenceMatcher(a=theirs, b=ours, autojunk=False)
    kept = set()
    for block in matcher.get_matching_blocks():
        kept.update(range(block.b, block.b + block.size))
    return [words[i] for i in range(len(words)) if i not in kept]


def labelled_regions(doc: dict, span_index: dict | None = None):
    """Artifact spans and unchanged (unlabelled) sentence regions of a document, as character spans.

    Round trips: words that differ from the aligned original are artifacts; sentences the MT
    returned unchanged are not machine-translated examples. WMT MT output: human MQM error spans.
    Returns (artifacts, unchanged, token_labels_known).
    """
    text, artifacts, unchanged = doc["text"], [], []
    if doc.get("aligned"):
        pos = 0
        for original, round_trip in doc["aligned"]:
            at = text.find(round_trip, pos)
            if at < 0:
                continue
            pos = at + len(round_trip)
            if original.strip() == round_trip.strip():
                unchanged.append((at, pos))
            else:
                artifacts += [(at + s, at + e) for s, e in changed_words(original, round_trip)]
        return artifacts, unchanged, True
    if span_index and (doc["group"], doc["system"]) in span_index:
        for segment, spans in span_index[(doc["group"], doc["system"])]:
            at = text.find(segment)
            if at >= 0:
                artifacts += [(at + s, at + e) for s, e in spans if e > s]
        return artifacts, unchanged, True
    return artifacts, unchanged, doc["kind"] == "human"  # human text has no MT artifacts


def span_index_of(spans: Dataset | None) -> dict:
    index = defaultdict(list)
    for rec in spans or []:
        if not rec["is_reference"]:
            index[(rec["group"], rec["system"])].append((rec["text"], rec["spans"]))
    return index


def _overlaps(span, regions):
    return any(s < span[1] and span[0] < e for s, e in regions)


def token_labels(token_spans, artifacts, known: bool) -> list[int]:
    if not known:
        return [IGNORE] * len(token_spans)
    return [int(_overlaps(span, artifacts)) for span in token_spans]


# --- sampling and examples --------------------------------------------------


def sampling_weights(docs: Dataset, label_weights: dict) -> list[float]:
    """Per-document sampling weight. Each label gets its share, split evenly over its kinds
    (human vs human translation, MT vs round trip), then over sources in proportion to the
    square root of their group counts, then evenly over the systems of a source (so that
    Claude's few hundred rewrites weigh as much as ChatGPT's thousands beside them), then evenly
    over groups, then over the documents of a group (a WMT group holds up to 20 system outputs)."""
    strata = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))  # (label, kind, source) -> system -> group -> rows
    for i, (label, kind, source, system, group) in enumerate(
            zip(docs["label"], docs["kind"], docs["source"], docs["system"], docs["group"])):
        strata[label, kind, source][system][group].append(i)
    weights = [0.0] * len(docs)
    n_groups = {key: len({g for groups in systems.values() for g in groups}) for key, systems in strata.items()}
    for (label, kind, source), systems in strata.items():
        kinds = {k[1] for k in strata if k[0] == label}
        sources = [n for k, n in n_groups.items() if k[:2] == (label, kind)]
        share = label_weights[label] / len(kinds) * n_groups[label, kind, source] ** 0.5 / sum(n ** 0.5 for n in sources)
        for groups in systems.values():
            for rows in groups.values():
                for i in rows:
                    weights[i] = share / len(systems) / len(groups) / len(rows)
    return weights


def originals_by_group(docs: Dataset) -> dict[str, str]:
    """The English-original text of each group that has one (the first, if several)."""
    found = {}
    for group, kind, text in zip(docs["group"], docs["kind"], docs["text"]):
        if kind == "human":
            found.setdefault(group, text)
    return found


def mixed_document(original: str, machine: str, rng: random.Random) -> tuple[str, int] | None:
    """A partly machine-made article: the original's first paragraphs (or sentences), then the
    machine version from the matching point on. Returns (text, where the machine part starts),
    or None when either text is too short to cut."""
    def parts(text):
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        if len(paragraphs) >= 2:
            return paragraphs, "\n\n"
        return [text[s:e] for s, e in split_sentences(text)], " "

    head, head_sep = parts(original)
    tail, tail_sep = parts(machine)
    if len(head) < 2 or len(tail) < 2:
        return None
    cut = rng.randint(1, len(head) - 1)
    start = min(max(1, round(cut * len(tail) / len(head))), len(tail) - 1)
    first = head_sep.join(head[:cut])
    return first + "\n\n" + tail_sep.join(tail[start:]), len(first) + 2


def document_examples(doc: dict, tokenizer, cfg, rng: random.Random, span_index=None,
                      augment: float = 0.0, keep_clean: bool = False, originals: dict | None = None) -> list[dict]:
    """One random window of `doc` and one random lone sentence, with all their labels. With
    probability `augment` they come from a perturbed copy of the document (one of
    `cfg.augmentations`, at random), which replaces the clean one or, with `keep_clean`, comes
    beside it (two windows and two lone sentences). A machine-made document whose group has an
    original (`originals`) becomes, with probability `cfg.mixed`, a mixed document: the original's
    opening, then the machine version, each sentence labelled by the part it is in."""
    label = LABEL2ID[doc["label"]]
    text = doc["text"]
    if originals and label != ORIGINAL and doc["group"] in originals and rng.random() < cfg.mixed:
        mixed = mixed_document(originals[doc["group"]], text, rng)
        if mixed:
            text, machine_from = mixed
            sentences = split_sentences(text)
            labels = [ORIGINAL if s < machine_from else label for s, _ in sentences]
            return _view_examples(text, sentences, [], [], label, False, tokenizer, cfg, rng, labels)
    sentences = split_sentences(text)
    artifacts, unchanged, known = labelled_regions(doc, span_index)
    views = [(text, sentences, artifacts, unchanged)]
    if augment and rng.random() < augment:
        perturbed, where = perturb(text, AUGMENTATIONS[rng.choice(cfg.augmentations)], rng)
        moved = ([(where[s], where[e]) for s, e in spans if where[e] > where[s]]
                 for spans in (sentences, artifacts, unchanged))
        views = (views if keep_clean else []) + [(perturbed, *moved)]
    examples = []
    for view in views:
        examples += _view_examples(*view, label, known, tokenizer, cfg, rng)
    return examples


def _view_examples(text, sentences, artifacts, unchanged, label, known, tokenizer, cfg, rng,
                   sentence_labels=None) -> list[dict]:
    if sentence_labels is None:
        sentence_labels = _sentence_labels(sentences, artifacts, unchanged, label)
    windows = encode_document(tokenizer, text, sentences, cfg.max_length, cfg.stride)
    window = rng.choice(windows)
    examples = [_window_example(window, label, sentence_labels, artifacts, known)]
    candidates = [i for i, lab in enumerate(sentence_labels) if lab != IGNORE]
    if candidates:
        i = rng.choice(candidates)
        s, e = sentences[i]
        shifted = [(a - s, b - s) for a, b in artifacts if a >= s and b <= e]
        examples.append(_lone_example(tokenizer, text[s:e], sentence_labels[i], shifted, known, cfg))
    return examples


def _sentence_labels(sentences, artifacts, unchanged, label) -> list[int]:
    """Each sentence's label: the document's, but none for a sentence the MT returned unchanged."""
    return [IGNORE if _overlaps(s, unchanged) and not _overlaps(s, artifacts) else label for s in sentences]


def _window_example(window, label, sentence_labels, artifacts, known) -> dict:
    present, sentence_ids = window.local_sentences()
    return {
        "input_ids": window.input_ids,
        "sentence_ids": sentence_ids,
        "labels": label,
        "sentence_labels": [sentence_labels[s] for s in present],
        "token_labels": [IGNORE] + token_labels(window.token_spans, artifacts, known) + [IGNORE],
    }


def span_examples(spans: Dataset, tokenizer, cfg) -> list[dict]:
    """Annotated MT segments as lone-sentence examples with token labels."""
    out = []
    for rec in spans:
        label = LABEL2ID["original" if rec["is_reference"] else "machine-translated"]
        out.append(_lone_example(tokenizer, rec["text"], label, [(s, e) for s, e in rec["spans"] if e > s], True, cfg))
    return out


# --- pairs: a machine-made text beside the human version of the same text ---------------------


def counterparts(docs: Dataset) -> dict[int, list[int]]:
    """For each machine-made document, the rows of its human counterparts in its group: the human
    translations of the same WMT source beside an MT output (same segments, index-aligned), the
    original beside a round trip or a rewrite."""
    human, translations = defaultdict(list), defaultdict(list)
    for i, (group, kind) in enumerate(zip(docs["group"], docs["kind"])):
        if kind == "human":
            human[group].append(i)
        elif kind == "human-translation":
            translations[group].append(i)
    found = {}
    for i, (group, kind) in enumerate(zip(docs["group"], docs["kind"])):
        rows = translations.get(group) if kind == "mt" else human.get(group) if kind in ("mt-roundtrip", "llm-rewrite") else None
        if rows:
            found[i] = rows
    return found


def pair_examples(docs: Dataset, tokenizer, cfg, n_pairs: int, rng: random.Random, span_index=None,
                  weights: list[float] | None = None) -> list[dict]:
    """`n_pairs` machine-made documents, each beside a human counterpart (`counterparts`), as rows
    whose `partner_*` fields hold the human example: a window of each at the same place and, where
    the two are aligned sentence by sentence (WMT segments, round trips), one sentence of each
    that differs. The loss's pair term (model/network.py) ranks the machine one above its partner:
    the two share their topic and content, so only how they are written can tell them apart.
    Each kind (MT, round trips, rewrites) makes a third of the pairs; within a kind, documents are
    drawn as `sampling_weights` draws them (`weights`, when the caller has them already)."""
    partners = counterparts(docs)
    weights = weights or sampling_weights(docs, cfg.label_weights)
    kinds = docs["kind"]
    kind_weight = defaultdict(float)
    for i in partners:
        kind_weight[kinds[i]] += weights[i]
    rows = sorted(partners)
    chosen = rng.choices(rows, weights=[weights[i] / kind_weight[kinds[i]] for i in rows], k=n_pairs)
    examples = []
    for i in chosen:
        machine, human = docs[i], docs[rng.choice(partners[i])]
        label = LABEL2ID[machine["label"]]
        artifacts, unchanged, known = labelled_regions(machine, span_index)
        m_sentences, h_sentences = split_sentences(machine["text"]), split_sentences(human["text"])
        m_labels = _sentence_labels(m_sentences, artifacts, unchanged, label)
        m_windows = encode_document(tokenizer, machine["text"], m_sentences, cfg.max_length, cfg.stride)
        h_windows = encode_document(tokenizer, human["text"], h_sentences, cfg.max_length, cfg.stride)
        at = rng.randrange(min(len(m_windows), len(h_windows)))
        examples.append(_pair_row(_window_example(m_windows[at], label, m_labels, artifacts, known),
                                  _window_example(h_windows[at], ORIGINAL, [ORIGINAL] * len(h_sentences), [], True)))
        if machine["kind"] == "mt":
            aligned = list(zip(human["segments"] or [], machine["segments"] or []))
        else:
            aligned = machine["aligned"] or []
        aligned = [(h, m) for h, m in aligned if h.strip() and m.strip() and h.strip() != m.strip()]
        if aligned:
            h_text, m_text = rng.choice(aligned)
            m_artifacts = changed_words(h_text, m_text) if machine["kind"] == "mt-roundtrip" else []
            examples.append(_pair_row(_lone_example(tokenizer, m_text, label, m_artifacts, bool(m_artifacts), cfg),
                                      _lone_example(tokenizer, h_text, ORIGINAL, [], True, cfg)))
    return examples


def _lone_example(tokenizer, text, label, artifacts, known, cfg) -> dict:
    """A sentence (or segment) read alone: one window, one sentence."""
    window = encode_document(tokenizer, text, [(0, len(text))], cfg.max_length, cfg.stride)[0]
    return _window_example(window, label, [label], artifacts, known)


def _pair_row(machine: dict, human: dict) -> dict:
    return {**machine, **{"partner_" + k: v for k, v in human.items()}}


def build_examples(docs: Dataset, tokenizer, cfg, n_docs: int, seed: int, spans: Dataset | None = None,
                   n_spans: int = 0, augment: float = 0.0, keep_clean: bool = False, n_pairs: int = 0) -> Dataset:
    """A balanced sample of `n_docs` documents (with replacement) turned into examples, and
    `n_pairs` pairs (`pair_examples`)."""
    rng = random.Random(seed)
    index = span_index_of(spans)
    originals = originals_by_group(docs) if cfg.mixed else None
    weights = sampling_weights(docs, cfg.label_weights)
    chosen = rng.choices(range(len(docs)), weights=weights, k=n_docs)
    examples = []
    for i in chosen:
        examples += document_examples(docs[i], tokenizer, cfg, rng, index, augment, keep_clean, originals)
    if spans is not None and n_spans and len(spans):
        picked = spans.select(rng.sample(range(len(spans)), min(n_spans, len(spans))))
        examples += span_examples(picked, tokenizer, cfg)
    if n_pairs:
        pairs = pair_examples(docs, tokenizer, cfg, n_pairs, rng, index, weights)
        # one schema for every row: a row without a partner has an empty one
        alone = {"partner_" + k: ([] if isinstance(v, list) else IGNORE) for k, v in pairs[0].items()
                 if not k.startswith("partner_")} if pairs else {}
        examples = [{**alone, **e} for e in examples] + pairs
    rng.shuffle(examples)
    return Dataset.from_list(examples)


class Collator:
    """Pads a batch: ids with the pad token, sentence ids with -1, labels with IGNORE."""

    def __init__(self, pad_token_id: int):
        self.pad = pad_token_id

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        # a pair row (`pair_examples`) brings its human partner: it joins the batch after the rows,
        # and `pair_with` gives each machine-made row its partner's place (-1: none)
        rows, partners, pair_with = [], [], []
        for b in batch:
            rows.append({k: v for k, v in b.items() if not k.startswith("partner_")})
            if b.get("partner_labels", IGNORE) != IGNORE:
                pair_with.append(len(batch) + len(partners))
                partners.append({k[len("partner_"):]: v for k, v in b.items() if k.startswith("partner_")})
            else:
                pair_with.append(-1)
        batch = rows + partners
        width = max(len(b["input_ids"]) for b in batch)
        n_sent = max(max(len(b["sentence_labels"]) for b in batch), 1)

        def pad(key, value, size):
            return torch.tensor([list(b[key]) + [value] * (size - len(b[key])) for b in batch])

        ids = pad("input_ids", self.pad, width)
        return {
            "input_ids": ids,
            "attention_mask": (torch.arange(width)[None, :] < torch.tensor([len(b["input_ids"]) for b in batch])[:, None]).long(),
            "sentence_ids": pad("sentence_ids", -1, width),
            "labels": torch.tensor([b["labels"] for b in batch]),
            "sentence_labels": pad("sentence_labels", IGNORE, n_sent),
            "token_labels": pad("token_labels", IGNORE, width),
            **({"pair_with": torch.tensor(pair_with + [-1] * len(partners))} if partners else {}),
        }
