import json

import pytest

from model.network import CONFIG_FILE, read_weights

from scripts.average_checkpoints import main

SHIPPED = "model/weights"


def test_average_of_a_checkpoint_with_itself_is_that_checkpoint(tmp_path):
    main([str(tmp_path / "soup"), SHIPPED, SHIPPED, "--weights", "0.3", "0.7"])
    a, b = read_weights(SHIPPED), read_weights(tmp_path / "soup")
    key = "sequence_head.weight"
    assert a.keys() == b.keys() and (a[key] - b[key]).abs().max() < 1e-3
    settings = json.loads((tmp_path / "soup" / CONFIG_FILE).read_text())
    assert settings["weight_average"] == [[SHIPPED, 0.3], [SHIPPED, 0.7]]


def test_weights_must_sum_to_one(tmp_path):
    with pytest.raises(SystemExit, match="summing to 1"):
        main([str(tmp_path / "soup"), SHIPPED, SHIPPED, "--weights", "0.5", "0.7"])
