import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = Path(os.environ.get("TELLTALE_CORPUS", ROOT.parent / "shared" / "corpus"))

# Text written for these tests (never corpus text).
ARTICLE = (
    "The town council of Port Ellery voted on Tuesday to keep its ferry pier open through the winter. "
    "Councillor Maria Okafor said more than 400 people a day used the boat. "
    "The harbour authority had warned that two timber piles were rotting.\n\n"
    "Repairs are expected to cost about 1.2 million dollars. "
    "Two councillors voted against the motion, saying the town could not afford it."
)


@pytest.fixture(scope="session")
def predictor():
    from model import Predictor

    return Predictor.load()


@pytest.fixture(scope="session")
def tokenizer():
    from transformers import AutoTokenizer

    from model.base import base_path

    return AutoTokenizer.from_pretrained(base_path("e5-small"))
