"""The shipped checkpoint's labels and probabilities on a fixed sample, pinned: code moves must not
change what users get. After shipping a new checkpoint, rewrite the pins with

    .venv/bin/python tests/test_golden.py --write
"""
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import ARTICLE, ROOT  # noqa: E402

PINS = Path(__file__).with_name("golden.json")


def sample_texts() -> dict[str, str]:
    examples = {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.txt"))}
    return {**examples, "article": ARTICLE, "article, no punctuation": re.sub(r"[^\w\s]", "", ARTICLE),
            "article, cased": ARTICLE.upper(), "one sentence": ARTICLE.split(". ")[0] + "."}


def outputs(predictor) -> dict:
    texts = sample_texts()
    return {name: {"label": p.label, "probabilities": p.probabilities, "flags": p.flags,
                   "sentences": [s.label for s in p.sentences],
                   "artifacts": [[a.start, a.end, a.kind] for a in p.artifacts]}
            for name, p in zip(texts, predictor.predict(list(texts.values())))}


def test_shipped_outputs_are_as_pinned(predictor):
    pinned = json.loads(PINS.read_text(encoding="utf-8"))
    got = outputs(predictor)
    assert set(got) == set(pinned)
    for name, want in pinned.items():
        assert got[name]["label"] == want["label"], name
        assert got[name]["probabilities"] == pytest.approx(want["probabilities"], abs=1e-6), name
        assert got[name]["flags"] == want["flags"] and got[name]["sentences"] == want["sentences"], name
        assert got[name]["artifacts"] == want["artifacts"], name


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    from model import Predictor

    PINS.write_text(json.dumps(outputs(Predictor.load()), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {PINS}")
