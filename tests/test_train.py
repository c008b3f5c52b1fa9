import json

import pytest

from conftest import ARTICLE, CORPUS

pytestmark = pytest.mark.skipif(not (CORPUS / "docs.jsonl.gz").exists(), reason="needs ../shared/corpus")


def test_tiny_config_trains_a_loadable_checkpoint(tmp_path):
    from model import Predictor
    from model.labels import LABELS
    from training.train import main

    out = main(["--config", "configs/tiny.yaml", "--set", f"output_dir={tmp_path / 'tiny'}",
                "--set", f"corpus={CORPUS}"])
    files = {p.name for p in out.iterdir() if p.is_file()}
    assert {"telltale.json", "heads_and_encoder.safetensors", "tokenizer.json.gz", "char_ngrams.safetensors"} <= files
    assert sum(p.stat().st_size for p in out.iterdir() if p.is_file()) < 50 * 2**20
    settings = json.loads((out / "telltale.json").read_text())
    assert settings["labels"] == list(LABELS) and settings["training"]["steps"] == 4
    assert settings["training"]["train_loss"] > 0
    p = Predictor.load(out).predict_one(ARTICLE)
    assert p.label in LABELS or p.label == "uncertain"
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
