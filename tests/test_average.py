import json

import pytest
from safetensors.torch import load_file

from model.network import CONFIG_FILE, WEIGHTS_FILE

from scripts.average_checkpoints import main

SHIPPED = "model/weights"


def test_average_of_a_checkpoint_with_itself_is_that_checkpoint(tmp_path):
    main([str(tmp_path / "soup"), SHIPPED, SHIPPED, "--weights", "0.3", "0.7"])
    a, b = load_file(f"{SHIPPED}/{WEIGHTS_FILE}"), load_file(tmp_path / "soup" / WEIGHTS_FILE)
    key = "sequence_head.weight"
    assert a.keys() == b.keys() and (a[key].float() - b[key].float()).abs().max() < 1e-3
    settings = json.loads((tmp_path / "soup" / CONFIG_FILE).read_text())
    assert settings["weight_average"] == [[SHIPPED, 0.3], [SHIPPED, 0.7]]


def test_weights_must_sum_to_one(tmp_path):
    with pytest.raises(SystemExit, match="summing to 1"):
        main([str(tmp_path / "soup"), SHIPPED, SHIPPED, "--weights", "0.5", "0.7"])
