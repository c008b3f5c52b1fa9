"""Sentence splitting and windowing: the one implementation shared by training and inference."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by whitespace and
# something that can start a sentence, or at a paragraph break.
_BOUNDARY = re.compile(r"""(?P<end>[.!?]["'”’)\]]*)\s+(?=["'“‘(\[]?[A-Z0-9])|(?P<para>\n\s*\n)""")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "sen", "rep", "gov", "lt", "col", "sgt",
    "capt", "inc", "corp", "ltd", "co", "no", "vs", "etc", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "mt",
}
_LAST_WORD = re.compile(r"([\w.]+)\.[\"'”’)\]]*$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of `text`, whitespace trimmed."""
    spans, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.end("end") if m.group("end") else m.start()
        last = _LAST_WORD.search(text, start, end)
        if m.group("end") and last and (
            last.group(1).lower() in _ABBREVIATIONS or len(last.group(1)) == 1  # "J. Smith"
        ):
            continue
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(text)))
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


@dataclass
class Window:
    """One model input covering part of a document.

    `token_spans` are the character spans of its content tokens (specials excluded), and
    `sentence_ids` the index (into the document's sentence list) of the sentence each
    content token falls in, or -1 for tokens between sentences.
    """

    input_ids: list[int]
    token_spans: list[tuple[int, int]]
    sentence_ids: list[int]

    def local_sentences(self) -> tuple[list[int], list[int]]:
        """The document sentences present in this window, and per input token (specials
        included) the position of its sentence in that list, or -1: what the model pools."""
        present = sorted({s for s in self.sentence_ids if s >= 0})
        local = {s: i for i, s in enumerate(present)}
        return present, [-1] + [local.get(s, -1) for s in self.sentence_ids] + [-1]


def window_starts(n_tokens: int, size: int, stride: int, short_last_window: bool = False) -> list[int]:
    """Start indices of windows of at most `size` tokens, `stride` apart, that cover all `n_tokens`.
    The last one ends at the end: a full window, overlapping the one before, or with
    `short_last_window` only what is left (at least a quarter window, so that a few tokens are
    never read alone): with a stride of `size`, windows that tile the text."""
    if n_tokens <= size:
        return [0]
    if not short_last_window:
        return list(range(0, n_tokens - size, stride)) + [n_tokens - size]
    starts = [0]
    while starts[-1] + size < n_tokens:
        starts.append(starts[-1] + stride)
    starts[-1] = min(starts[-1], n_tokens - size // 4)
    return starts


def encode_document(tokenizer, text: str, sentences: list[tuple[int, int]], max_length: int,
                    stride: int, short_last_window: bool = False) -> list[Window]:
    """Tokenize `text` once and cut it into windows of at most `max_length` tokens."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids, spans = enc["input_ids"], enc["offset_mapping"]
    sentence_of = [-1] * len(ids)
    si = 0
    for t, (s, e) in enumerate(spans):
        while si < len(sentences) and sentences[si][1] <= s:
            si += 1
        if si < len(sentences) and sentences[si][0] < e and s < sentences[si][1] or (
            si < len(sentences) and s == e == sentences[si][0]
        ):
            sentence_of[t] = si
    size = max_length - 2  # room for the start and end tokens
    windows = []
    for start in window_starts(len(ids), size, stride, short_last_window):
        end = start + size
        windows.append(Window(
            input_ids=[tokenizer.cls_token_id, *ids[start:end], tokenizer.sep_token_id],
            token_spans=[tuple(x) for x in spans[start:end]],
            sentence_ids=sentence_of[start:end],
        ))
    return windows


def batch_arrays(windows, pad_id: int) -> tuple:
    """Windows as padded int64 arrays: input ids, attention mask, and each token's sentence
    within its window (-1 for none), which the sentence logits pool by."""
    width = max(len(w.input_ids) for w in windows)
    ids = np.full((len(windows), width), pad_id, dtype=np.int64)
    mask = np.zeros_like(ids)
    sentence_ids = np.full_like(ids, -1)
    for r, w in enumerate(windows):
        ids[r, : len(w.input_ids)] = w.input_ids
        mask[r, : len(w.input_ids)] = 1
        sentence_ids[r, : len(w.input_ids)] = w.local_sentences()[1]
    return ids, mask, sentence_ids
