"""Which article was a suspect text made from? Source matching against an index of originals.

`Matcher.open(path)` opens (or creates) an index; `add(texts, ids)` embeds originals into it,
whole and by paragraph; `match(texts)` returns, for each suspect text, the most likely source with
a similarity score, and the suspect's sentences aligned to the source's: kept, reworded,
translated or added (and the source's sentences that were dropped).

Embeddings are all-MiniLM-L6-v2's (mean pooling, unit length), not telltale's fine-tuned encoder:
it was trained on sentence pairs, and with 6 layers it embeds twice as fast as multilingual-e5-small
while telling a sentence's versions from other sentences as well (docs/experiments/README.md,
"Source matching embeds with all-MiniLM-L6-v2"; being uncased does not matter here). An article's
vector is the mean of its paragraphs' vectors, so that it covers the whole article, not its first
256 word pieces. The articles nearest by that vector are the candidates; each is then scored by how well
its paragraphs cover the suspect's and by the share of the suspect's rare words it holds
(`score`), because a rewrite keeps the names and numbers that a vector blurs. The store is
Qdrant: its local mode (a directory, no server, pure Python; Qdrant advises it up to about 20,000
points, one point an article here) by default, and the same calls against a Qdrant server
(`Matcher.open(url=...)`) for an archive of millions.
"""
from __future__ import annotations

import difflib
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model.text import split_sentences

MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on up to 256 word pieces
PARAGRAPH_WORDS = (40, 150)  # shorter paragraphs join the next; longer ones (over ~200 word pieces) are cut at sentences
COLLECTION = "telltale_minilm"  # one point an article: its vector and its paragraphs' (a multivector)
OLD_COLLECTIONS = ("telltale_articles",)  # e5-small's vectors, before 2026-12-07: not comparable
CANDIDATES = 20  # articles re-scored
NEAREST = 300  # by article vector, of which the CANDIDATES whose paragraphs cover the suspect's best are re-scored too
WIDTH_SPREAD = 1.5  # the longest text in an embedding batch is at most this many times its shortest
WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
POSSESSIVE = re.compile(r"'s$")
WORDS_WEIGHT = 0.3  # the rare words' share beside paragraph coverage in `score`
COMMON = 7.0  # wordfreq's Zipf frequency of the commonest English words: a word's weight is (COMMON - its Zipf)^2
KEPT_RATIO = 0.9  # character similarity at which a sentence counts as kept verbatim
# Measured on validation groups by training.match_eval (docs/experiments/source-matching.md):
# the cosine at which a suspect sentence is a version of a source sentence (1% of unrelated
# same-source sentences reach it: a sentence a rewrite adds is on the same story, so nearer than
# those), and the score at which a match is reported (1% of human-written articles reach it
# against another).
SENTENCE_MATCH = 0.52
REPORT_SCORE = 0.817


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph (blank-line or line separated), short ones joined to the
    next and long ones cut at sentence ends, so that the embedder reads each whole."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S(?:.*\S)?", text)]  # lines
    out: list[tuple[int, int]] = []
    start = None
    for a, b in spans:
        start = a if start is None else start
        if len(text[start:b].split()) >= PARAGRAPH_WORDS[0]:
            out.extend(_cut(text, start, b))
            start = None
    if start is not None:
        if out and len(text[start:spans[-1][1]].split()) < PARAGRAPH_WORDS[0]:
            out[-1] = (out[-1][0], spans[-1][1])  # a short tail joins the paragraph before it
        else:
            out.extend(_cut(text, start, spans[-1][1]))
    return out


def _cut(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A paragraph longer than PARAGRAPH_WORDS[1] words, cut at sentence ends into pieces of
    about half that."""
    if len(text[start:end].split()) <= PARAGRAPH_WORDS[1]:
        return [(start, end)]
    pieces, a = [], start
    for _, e in split_sentences(text[start:end]):
        if len(text[a:start + e].split()) >= PARAGRAPH_WORDS[1] // 2:
            pieces.append((a, start + e))
            a = start + e
    if text[a:end].strip():
        pieces.append((a, end))
    return [(a + len(text[a:b]) - len(text[a:b].lstrip()), b) for a, b in pieces]


class Embedder:
    """all-MiniLM-L6-v2's sentence embeddings (torch, CPU or GPU)."""

    name = "minilm"  # vectors from different embedders are not comparable: caches are kept apart by it

    def __init__(self, device: str | None = None):
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging

        from model.base import base_path

        transformers_logging.disable_progress_bar()  # "Loading weights": not the user's business

        path = base_path(self.name)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = AutoModel.from_pretrained(path).to(self.device).eval()
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.pad_id = self.tokenizer.token_to_id("[PAD]")

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """[len(texts), 384] unit vectors; texts longer than MAX_TOKENS word pieces are cut there."""
        import torch

        encoded = [e.ids for e in self.tokenizer.encode_batch(texts)]
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for rows in batches([len(ids) for ids in encoded], batch_size):
                width = max(len(encoded[r]) for r in rows)
                ids = torch.full((len(rows), width), self.pad_id)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for j, r in enumerate(rows):
                    ids[j, :len(encoded[r])] = torch.tensor(encoded[r])
                    mask[j, :len(encoded[r])] = 1
                hidden = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).last_hidden_state
                m = mask.to(self.device).unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1)
                out[rows] = torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
        return out


def batches(lengths: list[int], batch_size: int, spread: float = WIDTH_SPREAD) -> list[np.ndarray]:
    """Row indices, shortest first, cut into batches of at most `batch_size` rows whose longest is
    at most `spread` times their shortest: a padded position costs what a word piece does, and
    one article's sentences (10 to 60 word pieces) in one batch would be half padding."""
    order = np.argsort(lengths, kind="stable")
    out, start = [], 0
    for i in range(1, len(order) + 1):
        if i == len(order) or i - start == batch_size or lengths[order[i]] > spread * lengths[order[start]]:
            out.append(order[start:i])
            start = i
    return out


def article_vectors(texts: list[str], embedder: Embedder) -> tuple[np.ndarray, list[list[tuple[int, int]]], list[np.ndarray]]:
    """Each text's article vector, paragraph spans and paragraph vectors."""
    spans = [paragraphs(t) or [(0, len(t))] for t in texts]
    flat = embedder.embed([t[a:b] for t, sp in zip(texts, spans) for a, b in sp])
    per_text, k = [], 0
    for sp in spans:
        per_text.append(flat[k:k + len(sp)])
        k += len(sp)
    weights = [np.array([len(t[a:b].split()) for a, b in sp], dtype=np.float32) for t, sp in zip(texts, spans)]
    articles = np.stack([_unit((w[:, None] * v).sum(0)) for w, v in zip(weights, per_text)])
    return articles, spans, per_text


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def sentence_vectors(text: str, embedder: Embedder) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Each sentence's span and vector, as the alignment compares them."""
    spans = split_sentences(text) or [(0, len(text))]
    return spans, embedder.embed([text[a:b] for a, b in spans])


def point_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "telltale:" + key))


def words(text: str) -> list[str]:
    """Lower-cased words, a possessive's 's cut off: "Ellery's council" and "Ellery" share a name."""
    return [POSSESSIVE.sub("", m.group().lower().replace("’", "'")) for m in WORD.finditer(text)]


def rarity(suspect_words: set[str]) -> dict[str, float]:
    """Each word's weight by how rare it is in English: names and numbers most, "the" nothing."""
    from wordfreq import zipf_frequency

    return {w: max(0.0, COMMON - zipf_frequency(w, "en")) ** 2 for w in suspect_words}


def rare_word_share(suspect: dict[str, float], source: set[str]) -> float:
    """The share of the suspect's words, weighted by their `rarity`, that the source holds too."""
    return sum(weight for w, weight in suspect.items() if w in source) / max(sum(suspect.values()), 1e-9)


@dataclass
class AlignedSentence:
    start: int  # offsets into the suspect text
    end: int
    status: str  # "kept", "reworded", "translated" or "added"
    similarity: float
    source_start: int | None = None  # the source sentence it came from
    source_end: int | None = None


@dataclass
class Match:
    source_id: str | None  # None when the best article's score is under the reporting threshold
    score: float  # the best article's score (`score`), reported or not
    coverage: float = 0.0  # share of the text's words in sentences that are versions of the best article's
    candidates: list[tuple[str, float]] = field(default_factory=list)  # the best articles, best first
    label: str | None = None  # telltale's verdict on the suspect text, when a Predictor was given
    sentences: list[AlignedSentence] = field(default_factory=list)
    dropped: list[tuple[int, int]] = field(default_factory=list)  # source sentences no suspect sentence came from
    source_text: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("source_text")
        d["candidates"] = [{"id": i, "score": round(s, 4)} for i, s in self.candidates]
        return d


class Matcher:
    """An index of original articles, and suspect texts matched against it."""

    def __init__(self, client, embedder: Embedder | None = None, threshold: float = REPORT_SCORE):
        self.client, self._embedder, self.threshold = client, embedder, threshold

    @classmethod
    def open(cls, path: str | Path | None = None, url: str | None = None, **kwargs) -> "Matcher":
        """A local index in directory `path` (created on first use), or a Qdrant server at `url`
        (`path=":memory:"` keeps it in memory)."""
        from qdrant_client import QdrantClient

        if (path is None) == (url is None):
            raise ValueError("give an index directory or a Qdrant server URL, not both")
        client = QdrantClient(url=url) if url else QdrantClient(location=":memory:") if str(path) == ":memory:" \
            else QdrantClient(path=str(path))
        if any(client.collection_exists(old) for old in OLD_COLLECTIONS):
            client.close()
            raise ValueError("this index was built by an older telltale, with other vectors: index the articles again "
                             "into a new --db")
        return cls(client, **kwargs)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder()
        return self._embedder

    def _ensure_collection(self, size: int):
        from qdrant_client import models

        if not self.client.collection_exists(COLLECTION):
            cosine = models.Distance.COSINE
            self.client.create_collection(COLLECTION, vectors_config={
                "article": models.VectorParams(size=size, distance=cosine),
                "paragraphs": models.VectorParams(size=size, distance=cosine, multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM))})

    def count(self) -> int:
        return self.client.count(COLLECTION).count if self.client.collection_exists(COLLECTION) else 0

    def add(self, texts: list[str], ids: list[str], vectors=None) -> None:
        """Index articles (an id already there is replaced). `vectors` (article_vectors' output)
        skips the embedding, for an evaluation that reuses them."""
        from qdrant_client import models

        articles, _, per_text = vectors or article_vectors(texts, self.embedder)
        self._ensure_collection(articles.shape[1])
        self.client.upsert(COLLECTION, [
            models.PointStruct(id=point_id(i), vector={"article": a.tolist(), "paragraphs": p.tolist()},
                               payload={"id": i, "text": t})
            for i, t, a, p in zip(ids, texts, articles, per_text)])

    def match(self, texts: list[str], predictor=None, top: int = 5, vectors=None,
              exclude: list[list[str]] | None = None) -> list[Match]:
        """The most likely source of each text: the best by `score` of the CANDIDATES articles nearest
        by vector and the CANDIDATES of the NEAREST whose paragraphs cover the text's best (a summary
        of a long article can sit far from it by article vector), reported when the score reaches
        `threshold`; with its `coverage` (the share of the
        text's words in sentences that are versions of the source's) and telltale's label given a
        `predictor`.
        `exclude[i]`: article ids not to match text i to."""
        from qdrant_client import models

        if not self.count():
            raise ValueError("the index is empty: add articles first (telltale index)")
        articles, spans, per_text = vectors or article_vectors(texts, self.embedder)
        predictions = predictor.predict(texts, artifacts=False) if predictor else [None] * len(texts)
        out = []
        exclude = exclude or [[]] * len(texts)
        for text, vector, spans_, paragraph_vectors, prediction, leave_out in zip(
                texts, articles, spans, per_text, predictions, exclude):
            not_these = models.Filter(must_not=[models.FieldCondition(key="id", match=models.MatchAny(any=leave_out))]) \
                if leave_out else None
            nearest = self.client.query_points(COLLECTION, query=vector.tolist(), using="article",
                                               query_filter=not_these, limit=NEAREST, with_payload=True,
                                               with_vectors=["paragraphs"]).points
            paragraph_words = np.array([len(text[a:b].split()) for a, b in spans_], dtype=np.float32)
            covered = [paragraph_coverage(paragraph_vectors, np.array(h.vector["paragraphs"]), paragraph_words)
                       for h in nearest]
            chosen = set(range(min(CANDIDATES, len(nearest)))) | set(np.argsort(covered)[::-1][:CANDIDATES].tolist())
            hits = {nearest[i].payload["id"]: (nearest[i], covered[i]) for i in sorted(chosen)}
            ours = rarity(set(words(text)))  # once a text, not once a candidate
            scored = sorted(((i, score(paragraphs_covered, rare_word_share(ours, set(words(h.payload["text"])))))
                             for i, (h, paragraphs_covered) in hits.items()), key=lambda x: -x[1])
            best_id, best = scored[0]
            m = Match(None, best, candidates=scored[:top], label=prediction and prediction.label)
            source = hits[best_id][0].payload["text"]
            sentences, dropped = self.align(text, source, prediction)
            m.coverage = coverage(text, sentences)
            if best >= self.threshold:
                m.source_id, m.source_text, m.sentences, m.dropped = best_id, source, sentences, dropped
            out.append(m)
        return out

    def sentence_vectors(self, text: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        return sentence_vectors(text, self.embedder)

    def align(self, suspect: str, source: str, prediction=None):
        """Each suspect sentence's status and source sentence; the source sentences left out. With
        telltale's prediction for the suspect, a sentence it calls machine-translated is
        "translated" instead of "reworded"."""
        (ours, our_vectors), (theirs, their_vectors) = self.sentence_vectors(suspect), self.sentence_vectors(source)
        sims = our_vectors @ their_vectors.T
        mt = {(s.start, s.end) for s in prediction.sentences if s.label == "machine-translated"} if prediction else set()
        aligned, used = [], set()
        for k, (a, b) in enumerate(ours):
            j = int(sims[k].argmax())
            sim = float(sims[k, j])
            sa, sb = theirs[j]
            if difflib.SequenceMatcher(None, suspect[a:b], source[sa:sb], autojunk=False).ratio() >= KEPT_RATIO:
                status = "kept"
            elif sim >= SENTENCE_MATCH:
                status = "translated" if (a, b) in mt else "reworded"
            else:
                aligned.append(AlignedSentence(a, b, "added", sim))
                continue
            used.add(j)
            aligned.append(AlignedSentence(a, b, status, sim, sa, sb))
        return aligned, [theirs[j] for j in range(len(theirs)) if j not in used]


def coverage(text: str, sentences: list[AlignedSentence]) -> float:
    """The share of the text's words (in its sentences) that come from the source: kept, reworded
    or translated."""
    words = [len(text[a.start:a.end].split()) for a in sentences]
    came = sum(w for w, a in zip(words, sentences) if a.status != "added")
    return came / max(sum(words), 1)


def score(paragraphs_covered: float, rare_words: float) -> float:
    """A source's score for a suspect: how well its paragraphs cover the suspect's
    (`paragraph_coverage`), with the share of the suspect's rare words the source holds
    (`rare_word_share`) beside it, at WORDS_WEIGHT; from 0 to 1. On validation
    (docs/experiments/source-matching-scores.md), the article vectors' cosine beside these ranked
    worse than without it."""
    return (paragraphs_covered + WORDS_WEIGHT * rare_words) / (1 + WORDS_WEIGHT)


def paragraph_coverage(query_paragraphs: np.ndarray, source_paragraphs: np.ndarray,
                       paragraph_words: np.ndarray) -> float:
    """How well, on average (by words), each of the suspect's paragraphs is matched by one of the source's."""
    return float((query_paragraphs @ source_paragraphs.T).max(1) @ paragraph_words / paragraph_words.sum())
