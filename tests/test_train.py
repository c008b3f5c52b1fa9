import json
import re

import pytest

from conftest import ARTICLE, CORPUS

pytestmark = pytest.mark.skipif(not (CORPUS / "docs.jsonl.gz").exists(), reason="needs ../shared/corpus")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from training.train import main

    return main(["--config", "configs/tiny.yaml", "--set", f"output_dir={tmp_path_factory.mktemp('tiny')}",
                 "--set", f"corpus={CORPUS}"])


def test_tiny_config_trains_a_loadable_checkpoint(tiny):
    from model import Predictor
    from model.labels import LABELS
    from training.artifact_head import SOURCES

    files = {p.name for p in tiny.iterdir() if p.is_file()}
    assert {"telltale.json", "heads_and_encoder.safetensors", "tokenizer.json.gz", "char_ngrams.safetensors"} <= files
    assert sum(p.stat().st_size for p in tiny.iterdir() if p.is_file()) < 50 * 2**20
    settings = json.loads((tiny / "telltale.json").read_text())
    train, ngrams, vocabulary, artifact_head = settings["lineage"]
    assert settings["labels"] == list(LABELS) and (train["stage"], train["steps"]) == ("train", 4)
    assert train["train_loss"] > 0 and ngrams["stage"] == "ngrams"
    assert vocabulary["stage"] == "vocabulary" and vocabulary["pieces"] < vocabulary["of"] / 5
    assert artifact_head["stage"] == "artifact_head" and settings["artifact_head"] == {"layers": [9], "hidden": 256}
    assert set(artifact_head["validation"]) == set(SOURCES)  # every source scored on validation
    assert settings["calibration"]["artifact_threshold"] == artifact_head["threshold"]
    p = Predictor.load(tiny).predict_one(ARTICLE)
    assert p.label in LABELS or p.label == "uncertain"
    assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_the_same_command_again_resumes_instead_of_training_again(tiny):
    from training.train import main

    before = (tiny / "telltale.json").read_text()
    assert main(["--config", "configs/tiny.yaml", "--set", f"output_dir={tiny}", "--set", f"corpus={CORPUS}"]) == tiny
    assert (tiny / "telltale.json").read_text() == before  # no stage ran twice


def test_an_adapter_run_changes_how_text_without_punctuation_reads_and_nothing_else(tiny, tmp_path):
    from model import Predictor
    from model.checkpoint import ADAPTER_FILE
    from training.train import main

    out = main(["--config", "configs/no-punctuation-adapter.yaml", "--set", f"init_from={tiny}",
                "--set", f"output_dir={tmp_path / 'adapter'}", "--set", f"corpus={CORPUS}",
                *[f"--set={kv}" for kv in ("max_docs=60", "docs_per_epoch=8", "span_examples_per_epoch=0",
                                          "validation_docs=4", "max_steps=2", "max_length=64", "stride=48",
                                          "batch_size=8", "learning_rate=0.01")]])
    assert (out / ADAPTER_FILE).exists()
    settings = json.loads((out / "telltale.json").read_text())
    assert settings["adapter_rank"] == 4 and settings["lineage"][-1]["stage"] == "adapter"
    assert settings["lineage"][-1]["steps"] == 2
    assert sum(p.stat().st_size for p in out.iterdir() if p.is_file()) < 50 * 2**20
    before, after = Predictor.load(tiny), Predictor.load(out)
    stripped = re.sub(r"[^\w\s]", "", ARTICLE)
    assert after.predict_one(ARTICLE).probabilities == pytest.approx(before.predict_one(ARTICLE).probabilities, abs=1e-6)
    assert after.predict_one(stripped).probabilities != pytest.approx(before.predict_one(stripped).probabilities, abs=1e-4)


def test_an_artifact_head_changes_the_artifact_scores_and_nothing_else(tiny, tmp_path):
    import shutil

    from model import Predictor
    from training.artifact_head import main

    out = tmp_path / "linear-head"
    shutil.copytree(tiny, out)
    main([str(out), "--config", "configs/tiny.yaml", "--set", f"corpus={CORPUS}", "--set", "artifact_layers=[12]",
          "--set", "artifact_hidden=0"])
    assert json.loads((out / "telltale.json").read_text())["artifact_head"] == {"layers": [12], "hidden": 0}
    tiny_scores = {}
    for backend in ("onnx", "torch"):
        before, after = (Predictor.load(path, backend=backend) for path in (tiny, out))
        old, new = before.run([ARTICLE])[0], after.run([ARTICLE])[0]
        assert after.assemble(new).probabilities == pytest.approx(before.assemble(old).probabilities, abs=1e-6)
        assert [s.probabilities for s in after.assemble(new).sentences] == [
            pytest.approx(s.probabilities, abs=1e-6) for s in before.assemble(old).sentences]
        assert new.token_scores() != pytest.approx(old.token_scores(), abs=1e-3)
        tiny_scores[backend] = old.token_scores()
    # the hidden-layer head of `tiny` scores tokens alike in both backends
    assert tiny_scores["onnx"] == pytest.approx(tiny_scores["torch"], abs=1e-4)


def test_a_word_mt_head_beside_the_first_only_adds_flags_and_keeps_the_budget(tiny, tmp_path):
    import shutil

    from model import Predictor
    from training.artifact_head import main

    out = tmp_path / "word-mt"
    shutil.copytree(tiny, out)
    main([str(out), "--keep-head", "--config", "configs/tiny.yaml", "--set", f"corpus={CORPUS}",
          "--set", "word_mt_budget=0.001"])
    settings = json.loads((out / "telltale.json").read_text())
    first = json.loads((tiny / "telltale.json").read_text())["artifact_head"]
    assert settings["artifact_head"] == {**first, "word_mt_hidden": 256}
    stage = settings["lineage"][-1]
    assert stage["stage"] == "word_mt_head" and "word_mt_bias_shift" in stage
    assert settings["calibration"]["artifact_threshold"] == stage["threshold"]
    assert stage["validation"]["human"]["words_flagged"] <= 1 / 300
    for backend in ("onnx", "torch"):
        before, after = (Predictor.load(path, backend=backend) for path in (tiny, out))
        old, new = before.run([ARTICLE])[0], after.run([ARTICLE])[0]
        assert after.assemble(new).probabilities == pytest.approx(before.assemble(old).probabilities, abs=1e-6)
        # a token's score is the higher of the two heads': never below the first head's alone
        old_scores, new_scores = old.token_scores(), new.token_scores()
        assert min(new_scores[k] - old_scores[k] for k in old_scores) > -1e-4
        assert new_scores != pytest.approx(old_scores, abs=1e-3)


def test_the_yardstick_scores_a_network_under_a_borrowed_calibration_from_its_cached_runs(tiny, tmp_path, monkeypatch):
    from model.checkpoint import calibration
    from training import yardstick

    args = [str(tiny), "--config", "configs/tiny.yaml", "--set", f"corpus={CORPUS}", "--per-cell", "2",
            "--out", str(tmp_path)]
    first = yardstick.main(args)
    assert (tmp_path / "yardstick.md").exists()
    assert first["fitted"] is False and set(first["ood"]["cell_balanced"]) >= {"recall", "worst_cell"}

    donor = tmp_path / "donor"
    donor.mkdir()
    settings = json.loads((tiny / "telltale.json").read_text())
    settings["calibration"]["label_prior"] = [1.0, 0.01, 0.01]  # nearly everything original
    (donor / "telltale.json").write_text(json.dumps(settings))
    monkeypatch.setattr(yardstick, "raw_runs", lambda *a, **k: pytest.fail("the network ran again"))
    second = yardstick.main([*args, "--calibration-from", str(donor)])
    assert second["calibration"] == calibration(donor).to_dict() != first["calibration"]
    assert f"borrowed from `{donor}`" in (tmp_path / "yardstick.md").read_text()


def test_a_development_read_of_the_yardstick_leaves_the_test_split_unread(tiny, tmp_path, monkeypatch):
    from training import yardstick

    monkeypatch.setenv("TELLTALE_CACHE", str(tmp_path / "cache"))
    read = []
    real = yardstick.RunCache.get
    monkeypatch.setattr(yardstick.RunCache, "get", lambda self, p, name, rows: read.append(name) or real(self, p, name, rows))
    report = yardstick.main([str(tiny), "--config", "configs/tiny.yaml", "--set", f"corpus={CORPUS}", "--per-cell", "2",
                             "--no-test", "--out", str(tmp_path)])
    assert "test" not in read and {"ood", "validation"} <= set(read)
    assert "test" not in report and "artifacts" not in report and list(report["mixed"]) == ["ood"]
    markdown = (tmp_path / "yardstick.md").read_text()
    assert "the test split was not read" in markdown and "| test |" not in markdown


def test_the_int8_yardstick_fit_chooses_only_the_int8_artifact_threshold(tiny, tmp_path, monkeypatch):
    import shutil

    from model import Predictor
    from model.checkpoint import calibration, read_weights, write_weights
    from training import yardstick

    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    monkeypatch.setenv("TELLTALE_CACHE", str(tmp_path / "cache"))
    before = calibration(copy)
    report = yardstick.main([str(copy), "--config", "configs/tiny.yaml", "--set", f"corpus={CORPUS}", "--per-cell", "2",
                             "--fit", "--backend", "int8", "--out", str(tmp_path)])
    after = calibration(copy)
    assert after.int8_artifact_threshold > 0 and after.replace(int8_artifact_threshold=0.0) == before
    assert report["backend"] == "int8" and "(the int8 backend)" in (tmp_path / "yardstick.md").read_text()
    assert Predictor.load(copy, backend="int8").calibration.artifact_threshold == after.int8_artifact_threshold
    assert Predictor.load(copy, backend="torch").calibration.artifact_threshold == before.artifact_threshold
    write_weights(copy, read_weights(copy), {})  # new weights: a threshold chosen on the old ones' scores goes
    assert calibration(copy) == before


def test_the_yardstick_runs_the_network_again_when_the_windows_change(tiny, tmp_path, monkeypatch):
    import shutil

    from model.checkpoint import update_settings
    from training import yardstick

    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    monkeypatch.setenv("TELLTALE_CACHE", str(tmp_path / "cache"))
    ran = []
    monkeypatch.setattr(yardstick, "raw_runs", lambda predictor, texts, desc: ran.append(desc) or [len(t) for t in texts])
    rows = [{"id": "a", "text": "One sentence."}]
    for _ in range(2):
        assert yardstick.RunCache(copy, str(CORPUS)).get(None, "ood", rows) == [13]
    assert ran == ["ood"]  # the second time from the cache
    update_settings(copy, {"stride": 40})  # windows that overlap more give other runs
    yardstick.RunCache(copy, str(CORPUS)).get(None, "ood", rows)
    assert ran == ["ood", "ood"]


def test_a_distilled_student_keeps_fewer_layers_and_loads_in_both_backends(tiny, tmp_path):
    from model import Predictor
    from model.checkpoint import ADAPTER_FILE, WEIGHTS_FILE
    from training.distill import main

    out = main(["--config", "configs/distill.yaml", "--set", f"teacher={tiny}", "--set", "student_layers=[0,6,11]",
                "--set", f"output_dir={tmp_path / 'student'}", "--set", f"corpus={CORPUS}",
                *[f"--set={kv}" for kv in ("max_docs=60", "docs_per_epoch=8", "validation_docs=4", "max_steps=2",
                                          "max_length=64", "stride=48", "batch_size=8", "artifact_windows=8",
                                          "distill_label_weight=0.5")]])
    settings = json.loads((out / "telltale.json").read_text())
    assert settings["encoder_layers"] == 3 and not settings["adapter_rank"] and not (out / ADAPTER_FILE).exists()
    assert settings["artifact_head"]["layers"] == [2]  # the state after teacher layers 0 and 6, below its 9
    distilled, head = settings["lineage"][-2:]
    assert distilled["stage"] == "distill" and distilled["steps"] == 2 and distilled["teacher"] == str(tiny)
    assert head["stage"] == "artifact_head" and head["config"]["artifact_layers"] == [2]
    assert settings["calibration"]["artifact_threshold"] == head["threshold"]
    assert (out / WEIGHTS_FILE).stat().st_size < 0.5 * (tiny / WEIGHTS_FILE).stat().st_size
    onnx, torch_ = (Predictor.load(out, backend=b).predict_one(ARTICLE) for b in ("onnx", "torch"))
    assert onnx.probabilities == pytest.approx(torch_.probabilities, abs=1e-4)
    assert [s.label for s in onnx.sentences] == [s.label for s in torch_.sentences]


def test_an_average_of_two_networks_lies_between_them_and_refuses_other_networks(tiny, tmp_path):
    import shutil

    import torch

    from model import Predictor
    from model.checkpoint import read_weights, write_weights
    from training.soup import main

    shifted = tmp_path / "shifted"
    shutil.copytree(tiny, shifted)
    write_weights(shifted, {k: v + 1.0 for k, v in read_weights(tiny).items()}, {}, {"stage": "shifted"})
    out = tmp_path / "average"
    main([str(tiny), str(shifted), "--weight", "0.25", "--out", str(out)])
    first, averaged = read_weights(tiny), read_weights(out)
    assert all(torch.allclose(averaged[k], first[k] + 0.25, atol=1e-2) for k in first)
    stage = json.loads((out / "telltale.json").read_text())["lineage"][-1]
    assert stage["stage"] == "average" and stage["weight_of_second"] == 0.25
    assert stage["second_stages"] == [{"stage": "shifted"}]  # what the second added to the first's lineage
    assert Predictor.load(out).predict_one(ARTICLE).label

    other = tmp_path / "other"
    shutil.copytree(tiny, other)
    write_weights(other, dict(list(first.items())[:-1]), {})
    with pytest.raises(SystemExit, match="not the same network"):
        main([str(tiny), str(other), "--out", str(tmp_path / "never")])


def test_the_yardstick_fit_bars_chooses_only_the_two_bars(tiny, tmp_path, monkeypatch):
    import shutil

    from model.checkpoint import calibration
    from training import yardstick

    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    monkeypatch.setenv("TELLTALE_CACHE", str(tmp_path / "cache"))
    before = calibration(copy).replace(machine_bar=0.99, original_bar=0.99)  # bars no fit would choose
    yardstick.checkpoint.write_calibration(copy, before, {"stage": "test"})
    report = yardstick.main([str(copy), "--config", "configs/tiny.yaml", "--set", f"corpus={CORPUS}", "--per-cell", "2",
                             "--fit-bars", "--out", str(tmp_path)])
    after = calibration(copy)
    assert (after.machine_bar, after.original_bar) != (0.99, 0.99)
    assert after.replace(machine_bar=0.99, original_bar=0.99) == before
    assert report["calibration"] == after.to_dict() and report["fitted"] == "bars"
    assert "its band's two bars fitted" in (tmp_path / "yardstick.md").read_text()
