import pytest

from training.config import TrainConfig


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("mixed: 0.5\nepochs: 3\n")
    cfg = TrainConfig.from_yaml(path, ["learning_rate=1e-4", "output_dir=runs/x", "epochs=1", "evaluate=false"])
    assert (cfg.mixed, cfg.epochs, cfg.learning_rate, cfg.output_dir, cfg.evaluate) == (0.5, 1, 1e-4, "runs/x", False)


@pytest.mark.parametrize("override, message", [
    ("epochz=3", "unknown config key"),
    ("epochs='three'", "wants int"),
    ("base=bert-huge", "base must be one of"),
    ("stride=1000", "stride"),
    ("augment=1.5", "augment is a share"),
    ("mixed=5", "mixed is a share"),
    ("augmentations=['homoglyphs']", "augmentations are some of"),
])
def test_bad_values_are_refused(override, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_yaml(None, [override])


def test_shipped_configs_load():
    recipe = TrainConfig.from_yaml("configs/recipe.yaml")
    assert recipe.evaluate and not recipe.init_from and set(recipe.ood_sources) == {"wmt23", "l2r"}
    assert TrainConfig.from_yaml("configs/tiny.yaml").max_steps > 0
    assert TrainConfig.from_yaml("configs/no-punctuation-adapter.yaml").init_from == recipe.output_dir
