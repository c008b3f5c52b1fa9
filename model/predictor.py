"""`Predictor`: the one way to run a telltale model, for one text or a million."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model import checkpoint
from model.artifacts import flagged_phrases, is_untranslated, untranslated_words, word_scores
from model.calibration import UNCERTAIN, Calibration, softmax
from model.labels import LABELS
from model.ngrams import CharNgrams
from model.normalize import Normalized, normalize
from model.text import Window, encode_document, split_sentences

SHIPPED = Path(__file__).parent / "weights"
# checkpoints shipped with telltale, by name: "fast" is a distilled 4-layer student, faster for
# less cell-balanced recall (figures: model/MODEL_CARD.md, docs/benchmarks.md)
NAMED = {"shipped": SHIPPED, "fast": Path(__file__).parent / "weights-fast"}
DOCS_PER_RUN = 256  # documents whose windows are batched together
_CLAUSE_PUNCTUATION = re.compile(r"[.,;:!?]")
# A word as prose writes it: letters (with inner apostrophes or hyphens), at most 25 of them,
# wrapped in punctuation at most.
_PROSE_WORD = re.compile(r"^[^\w]*[^\W\d_]{1,25}(?:['’-][^\W\d_]{1,25})*[^\w]*$")
WITHHOLDING_FLAGS = ("not-prose", "not-english")  # the model reads English prose: no verdict on anything else
FUNCTION_WORDS = set(
    "the of and to a in that is was he for it with as his on be at by i this had not are but from or "
    "have an they which one you were her all she there would their we him been has when who will more "
    "no if out so said what up its about into than them can only other new some could time these two "
    "may then do first any my now such like our over man me even most made after also did many before "
    "must through back years where much your way well down should because each just those people how "
    "too little state good very make world still own see men work long get here between both life being "
    "under never day same another know while last might us great old year off come since against go".split()
)


@dataclass
class Sentence:
    text: str
    start: int  # character offsets into the input text
    end: int
    label: str
    probabilities: dict[str, float]


@dataclass
class Artifact:
    text: str
    start: int
    end: int
    score: float
    kind: str  # "mistranslation", "untranslated", "odd casing", "homoglyph" or "invisible character"


@dataclass
class DocumentRun:
    """One text on its way through the model: normalized form, sentences, windows, raw outputs."""

    text: str
    norm: Normalized
    spans: list[tuple[int, int]]
    windows: list[Window]
    outputs: list[tuple] = field(default_factory=list)  # per window: (logits, sentence logits, artifact probs)
    ngram_probs: np.ndarray | None = None  # the character n-gram model's, when the checkpoint has one
    no_punctuation: bool = False  # warned about, and read through the no-punctuation adapter if the checkpoint has one

    def token_scores(self) -> dict[tuple[int, int], float]:
        """Artifact score of each token (character span in the normalized text); a token in two
        overlapping windows keeps its higher score."""
        scores: dict[tuple[int, int], float] = {}
        for w, (_, _, artifact) in zip(self.windows, self.outputs):
            for t, span in enumerate(w.token_spans):
                if span[1] > span[0]:
                    scores[span] = max(scores.get(span, 0.0), float(artifact[t + 1]))
        return scores


@dataclass
class Prediction:
    label: str  # one of LABELS, or "uncertain" when the evidence is weak
    probabilities: dict[str, float]  # calibrated, over LABELS, summing to 1
    sentences: list[Sentence] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    words: int = 0
    flags: list[str] = field(default_factory=list)  # "too-short", "not-english", "not-prose", "no-punctuation"

    def to_dict(self) -> dict:
        return asdict(self)

    def sentence_counts(self) -> dict[str, int]:
        counts = {label: 0 for label in LABELS}
        for s in self.sentences:
            counts[s.label] += 1
        return counts


def model_path(path: str | Path | None = None) -> Path:
    """A checkpoint directory, or the directory of a shipped checkpoint named in NAMED."""
    if path is None:
        return SHIPPED
    return NAMED[str(path)] if str(path) in NAMED and not Path(path).exists() else Path(path)


def lacks_punctuation(text: str) -> bool:
    """Thirty words or more with almost no clause punctuation: stripping it is an evasion, since
    machine translation shows partly in punctuation."""
    words = len(text.split())
    return words >= 30 and len(_CLAUSE_PUNCTUATION.findall(text)) < words / 50


def looks_like_prose(text: str) -> bool:
    """A good share of the tokens that hold a letter or digit are words, and there are a few
    different ones: not a table of numbers, a run of one character, or a wall of code. (News
    with many figures has about half words among such tokens; prose, 80% or more.)"""
    tokens = [t for t in text.split() if any(c.isalnum() for c in t)]
    words = [t for t in tokens if _PROSE_WORD.match(t)]
    return len(words) >= 0.35 * len(tokens) and len({w.lower() for w in words}) >= min(3, len(tokens) or 1)


def resolve_device(name: str | None) -> str:
    """`name` checked ("cpu", "cuda", "cuda:N"; default: CUDA when available), or a ValueError that says why not."""
    if name is None:
        return "cuda" if _has_cuda() else "cpu"
    if name == "cpu":
        return name
    kind, _, index = name.partition(":")
    if kind != "cuda" or index and not index.isdigit():
        raise ValueError(f"unknown device {name!r}; use cpu, cuda or cuda:N")
    if not _has_cuda():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine")
    import torch

    if int(index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return name


def _has_cuda() -> bool:
    # Importing torch is a second of every cold start: ask it only where an NVIDIA driver is.
    if not Path("/proc/driver/nvidia").exists():
        return False
    import torch

    return torch.cuda.is_available()


def english_share(text: str) -> float:
    """Share of words that are common English function words (news English: ~0.4)."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    return sum(w in FUNCTION_WORDS for w in words) / len(words) if words else 0.0


class Predictor:
    """Label texts as original / machine-translated / ai-rewritten, per document and sentence.

    Example:
        >>> p = Predictor.load()
        >>> p.predict_one("Shares of the company rose 4% on Tuesday after ...").label
        'original'
    """

    def __init__(self, network, tokenizer, settings: dict, ngrams: CharNgrams | None = None,
                 calibration: Calibration | None = None):
        self.network, self.tokenizer, self.settings = network, tokenizer, settings
        self.ngrams = ngrams
        self.calibration = calibration or Calibration()

    @classmethod
    def load(cls, path: str | Path | None = None, device: str | None = None, backend: str | None = None) -> "Predictor":
        """Load a checkpoint directory, or a shipped one by name ("fast"; default: the shipped model).

        backend: "onnx" (ONNX Runtime, the default on a CPU: a fast start and a third of
        torch's memory; built once from the checkpoint and cached, model/fast.py), "torch" (the
        default on a GPU; the same outputs to float rounding) or "int8" (ONNX Runtime with int8
        encoder weights, CPU only: 1.4-1.6x onnx on a CPU with int8 instructions; probabilities move by
        about 0.002 on average, and its artifact threshold is its own)."""
        path = model_path(path)
        device = resolve_device(device)
        backend = backend or ("onnx" if device == "cpu" else "torch")
        if backend not in ("onnx", "torch", "int8"):
            raise ValueError(f"unknown backend {backend!r}; use onnx, torch or int8")
        if backend != "torch" and device != "cpu":
            raise ValueError(f"the {backend} backend runs on the CPU; use backend='torch' for a GPU")
        settings = checkpoint.read_settings(path)
        tokenizer = checkpoint.load_tokenizer(path)
        calibration = Calibration.from_dict(settings["calibration"])
        if backend == "torch":
            from model.network import TorchNetwork

            network = TorchNetwork.load(path, device, tokenizer.pad_token_id)
        else:
            from model.fast import OnnxNetwork

            network = OnnxNetwork.load(path, tokenizer.pad_token_id, int8=backend == "int8")
            if backend == "int8" and calibration.int8_artifact_threshold:
                calibration = calibration.replace(artifact_threshold=calibration.int8_artifact_threshold)
        return cls(network, tokenizer, settings, CharNgrams.load(path), calibration)

    def predict_one(self, text: str, **kwargs) -> Prediction:
        return self.predict([text], **kwargs)[0]

    def predict(self, texts, batch_size: int | None = None, sentences: bool = True, artifacts: bool = True,
                threshold: float | None = None) -> list[Prediction]:
        """Predict every text; long texts are covered by successive windows, not truncated.

        Args:
            texts: a sequence of strings (one text is `[text]`).
            batch_size: windows per forward pass (default: the backend's, 8 for ONNX Runtime,
                16 for torch).
            sentences / artifacts: whether to fill `Prediction.sentences` / `.artifacts`.
            threshold: one bar for every label instead of the calibration's two (machine labels,
                "original") under which the verdict is "uncertain".
        """
        if isinstance(texts, str):
            raise TypeError("predict takes a sequence of texts; use predict_one(text) for one")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a whole number of at least 1, not {batch_size!r}")
        out = []
        for i in range(0, len(texts), DOCS_PER_RUN):  # bounded memory, however many texts
            out += [self.assemble(run, sentences, artifacts, threshold)
                    for run in self.run(texts[i : i + DOCS_PER_RUN], batch_size)]
        return out

    def run(self, texts, batch_size: int | None = None) -> list["DocumentRun"]:
        """The model's raw outputs for each text, before calibration and assembly."""
        batch_size = batch_size or self.network.windows_per_pass
        docs = []
        for text in texts:
            norm = normalize(text)
            spans = split_sentences(norm.text)
            windows = encode_document(self.tokenizer, norm.text, spans, **checkpoint.windowing(self.settings))
            docs.append(DocumentRun(text, norm, spans, windows, no_punctuation=lacks_punctuation(norm.text)))
        flat = [w for doc in docs for w in doc.windows]
        unpunctuated = [doc.no_punctuation for doc in docs for _ in doc.windows]
        outputs = [None] * len(flat)
        for no_punctuation in (False, True):  # text without punctuation reads through the adapter, if any
            order = sorted((i for i in range(len(flat)) if unpunctuated[i] == no_punctuation),
                           key=lambda i: len(flat[i].input_ids))  # less padding
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                for i, out in zip(idx, self.network.forward([flat[i] for i in idx], adapter=no_punctuation)):
                    outputs[i] = out
        first = 0
        for doc in docs:  # `flat` holds each document's windows in a row
            doc.outputs, first = outputs[first : first + len(doc.windows)], first + len(doc.windows)
        if self.ngrams:
            for doc, probs in zip(docs, self.ngrams.probabilities([doc.norm.text for doc in docs])):
                doc.ngram_probs = probs
        return docs

    def document_probabilities(self, run: "DocumentRun", calibration: Calibration | None = None) -> np.ndarray:
        """Calibrated probabilities of a document (with `calibration` instead of the checkpoint's, if given)."""
        weights = np.array([float(max(len(w.token_spans), 1)) for w in run.windows])
        return (calibration or self.calibration).document_probabilities(
            np.stack([o[0] for o in run.outputs]), weights, run.ngram_probs if self.ngrams else None)

    def assemble(self, run: DocumentRun, want_sentences: bool = True, want_artifacts: bool = True,
                 threshold: float | None = None) -> Prediction:
        """Turn a run into a Prediction (calibrated; "uncertain" below the bar of its label, or
        below `threshold` for every label when one is given)."""
        probs = self.document_probabilities(run)
        words = len(run.norm.text.split())
        flags = []
        if words < self.calibration.min_words:
            flags.append("too-short")
        if words and not looks_like_prose(run.norm.text):
            flags.append("not-prose")
        elif words and english_share(run.norm.text) < 0.12:
            flags.append("not-english")
        if run.no_punctuation:
            flags.append("no-punctuation")
        label = self.calibration.verdict(probs, threshold)
        if not words or set(flags) & set(WITHHOLDING_FLAGS):
            label = UNCERTAIN
        prediction = Prediction(label, _as_dict(probs), words=words, flags=flags)
        if want_sentences:
            prediction.sentences = self._sentences(run)
        if want_artifacts:
            prediction.artifacts = self._artifacts(run)
        return prediction

    def _sentences(self, run) -> list[Sentence]:
        text, norm, spans = run.text, run.norm, run.spans
        total = np.zeros((len(spans), len(LABELS)))
        for w, (_, sent_logits, _) in zip(run.windows, run.outputs):
            present, local = w.local_sentences()
            for j, s in enumerate(present):
                n_tokens = sum(1 for x in local if x == j)
                total[s] += softmax(np.asarray(sent_logits[j], dtype=np.float64) / self.calibration.temperature) * n_tokens
        out = []
        for s, (a, b) in enumerate(spans):
            p = total[s] / total[s].sum() if total[s].sum() > 0 else np.full(len(LABELS), 1 / len(LABELS))
            start, end = norm.span(a, b)
            out.append(Sentence(text[start:end], start, end, LABELS[int(p.argmax())], _as_dict(p)))
        return out

    def _artifacts(self, run) -> list[Artifact]:
        text, norm = run.text, run.norm
        phrases = flagged_phrases(word_scores(run.token_scores(), norm.text), norm.text,
                                  self.calibration.artifact_threshold, [e for _, e in run.spans])
        found = []
        for a, b, score in phrases:
            start, end = norm.span(a, b)
            kind = "untranslated" if is_untranslated(norm.text[a:b]) else "mistranslation"
            found.append(Artifact(text[start:end], start, end, round(score, 4), kind))
        for a, b in untranslated_words(norm.text):  # what the model missed
            if not any(p <= a and b <= q for p, q, _ in phrases):
                start, end = norm.span(a, b)
                found.append(Artifact(text[start:end], start, end, 1.0, "untranslated"))
        found += [Artifact(text[a:b], a, b, 1.0, kind) for a, b, kind in norm.findings]
        return sorted(found, key=lambda x: (x.start, -x.end))  # a span before the ones nested in it


def _as_dict(probs) -> dict[str, float]:
    values = [float(x) for x in probs]
    total = sum(values) or 1.0
    return {label: v / total for label, v in zip(LABELS, values)}
