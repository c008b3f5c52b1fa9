import json

import pytest

from conftest import CORPUS

pytestmark = pytest.mark.skipif(not (CORPUS / "docs.jsonl.gz").exists(), reason="needs ../shared/corpus")


def test_paired_clean_and_perturbed_accuracy_on_a_split(tmp_path, capsys):
    from scripts.perturbed_accuracy import main

    args = ["model/weights", "--split", "validation", "--max-docs", "6", "--set", f"corpus={CORPUS}"]
    stripped = main([*args, "--out", str(tmp_path / "stripped.json")])
    out = capsys.readouterr().out
    assert "validation, 6 documents: clean" in out
    assert "with the uncertain band, stripped punctuation:" in out
    for copy in ("clean", "stripped punctuation"):  # the band only ever takes machine labels away
        band = stripped[copy]["band"]
        assert 0 <= band["coverage"] <= 1
        assert band["human_given_a_machine_label"] <= stripped[copy]["human_given_a_machine_label"]
    assert json.loads((tmp_path / "stripped.json").read_text())["n"] == 6
    assert len(stripped["stripped punctuation"]["predicted"]) == 6
    assert stripped["drop"]["drop"] == pytest.approx(stripped["clean"]["accuracy"] - stripped["stripped punctuation"]["accuracy"])
    # homoglyphs are mapped back before the model: the same verdicts as on the clean text
    homoglyphs = main([*args, "--perturbation", "homoglyphs"])
    assert homoglyphs["homoglyphs"]["predicted"] == homoglyphs["clean"]["predicted"]
