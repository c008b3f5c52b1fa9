import pytest

from training.config import TrainConfig


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("base: minilm\nepochs: 3\n")
    cfg = TrainConfig.from_yaml(path, ["learning_rate=1e-4", "output_dir=somewhere", "epochs=1"])
    assert (cfg.base, cfg.epochs, cfg.learning_rate, cfg.output_dir) == ("minilm", 1, 1e-4, "somewhere")


@pytest.mark.parametrize("override, message", [
    ("epochz=3", "unknown config key"),
    ("epochs='three'", "wants int"),
    ("base=bert-huge", "base must be one of"),
    ("stride=1000", "stride"),
    ("augment=1.5", "augment is a share"),
    ("machine_missed_budget=5", "machine_missed_budget is a share"),
    ("augmentations=['homoglyphs']", "augmentations are some of"),
])
def test_bad_values_are_refused(override, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_yaml(None, [override])


def test_shipped_configs_load():
    assert TrainConfig.from_yaml("configs/default.yaml").base == "e5-small"
    assert TrainConfig.from_yaml("configs/tiny.yaml").max_steps > 0
    assert TrainConfig.from_yaml("configs/continue.yaml").init_from == "runs/default"
    assert TrainConfig.from_yaml("configs/copies.yaml").init_from == "runs/continued"
    assert "random casing" not in TrainConfig.from_yaml("configs/stripped.yaml").augmentations
