"""The checkpoint directory: the only code that reads or writes one.

    telltale.json                       schema, labels, base encoder, windowing, calibration, lineage
    tokenizer.json.gz, tokenizer_config.json, ...   the tokenizer (250k pieces: 16 MB unpacked)
    heads_and_encoder.safetensors       fp16: everything trained. The frozen word embeddings
                                        (96M of e5-small's 118M parameters) are rebuilt from the
                                        base package, so the checkpoint stays small
    char_ngrams.safetensors             the n-gram model mixed into the document verdict (optional)
    no_punctuation_adapter.safetensors  LoRA matrices text without punctuation is read through (optional)

`lineage` in telltale.json lists, oldest first, every stage that made the checkpoint (training
runs with their whole config, the n-gram fit, the calibration), so that it can be rebuilt.
"""
from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from model.calibration import Calibration
from model.labels import LABELS

SCHEMA = 2
CONFIG_FILE = "telltale.json"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "heads_and_encoder.safetensors"
NGRAMS_FILE = "char_ngrams.safetensors"
ADAPTER_FILE = "no_punctuation_adapter.safetensors"


def write(out_dir: str | Path, weights: dict, tokenizer, settings: dict) -> None:
    """A new checkpoint: trained weights (fp16), the tokenizer and `settings` (at least `base`,
    `max_length`, `stride`, `lineage`)."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in weights.items()}, out / WEIGHTS_FILE)
    tokenizer.save_pretrained(out)
    packed = out / TOKENIZER_FILE
    with packed.open("rb") as src, gzip.open(out / (TOKENIZER_FILE + ".gz"), "wb", compresslevel=9) as dst:
        shutil.copyfileobj(src, dst)
    packed.unlink()
    settings = {"schema": SCHEMA, "labels": list(LABELS), "calibration": Calibration().to_dict(), **settings}
    (out / CONFIG_FILE).write_text(json.dumps(settings, indent=2) + "\n")


def read_settings(ckpt_dir: str | Path) -> dict:
    path = Path(ckpt_dir) / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"{ckpt_dir}: not a telltale checkpoint (no {CONFIG_FILE})")
    settings = json.loads(path.read_text())
    if settings.get("schema") != SCHEMA:
        raise ValueError(f"{ckpt_dir}: checkpoint schema {settings.get('schema', 1)}, this telltale reads {SCHEMA}; "
                         "retrain it with this version")
    if tuple(settings["labels"]) != LABELS:
        raise ValueError(f"{ckpt_dir}: checkpoint labels {settings['labels']} differ from {list(LABELS)}")
    return settings


def update_settings(ckpt_dir: str | Path, values: dict, stage: dict | None = None) -> None:
    """Write `values` into a checkpoint's settings, and `stage` at the end of its lineage."""
    settings = read_settings(ckpt_dir)
    settings.update(values)
    if stage:
        settings["lineage"] = settings.get("lineage", []) + [stage]
    (Path(ckpt_dir) / CONFIG_FILE).write_text(json.dumps(settings, indent=2) + "\n")


def calibration(ckpt_dir: str | Path) -> Calibration:
    return Calibration.from_dict(read_settings(ckpt_dir)["calibration"])


def write_calibration(ckpt_dir: str | Path, chosen: Calibration, stage: dict) -> None:
    update_settings(ckpt_dir, {"calibration": chosen.to_dict()}, stage)


def read_weights(ckpt_dir: str | Path) -> dict:
    """A checkpoint's trained weights (all but the frozen word embeddings), in float32."""
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(Path(ckpt_dir) / WEIGHTS_FILE).items()}


def write_adapter(ckpt_dir: str | Path, state: dict, rank: int, stage: dict) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in state.items()}, Path(ckpt_dir) / ADAPTER_FILE)
    update_settings(ckpt_dir, {"adapter_rank": rank}, stage)


def read_adapter(ckpt_dir: str | Path) -> dict:
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(Path(ckpt_dir) / ADAPTER_FILE).items()}


def write_ngrams(ckpt_dir: str | Path, arrays: dict[str, np.ndarray], stage: dict) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v, dtype=np.float16 if k != "intercept" else np.float32)
               for k, v in arrays.items()}, str(Path(ckpt_dir) / NGRAMS_FILE))
    update_settings(ckpt_dir, {}, stage)


def read_ngrams(ckpt_dir: str | Path) -> dict[str, np.ndarray] | None:
    """The n-gram model's arrays, or None for a checkpoint without one."""
    from safetensors.numpy import load_file

    path = Path(ckpt_dir) / NGRAMS_FILE
    return {k: v.astype(np.float32) for k, v in load_file(path).items()} if path.exists() else None


def load_tokenizer(ckpt_dir: str | Path):
    from transformers import AutoTokenizer

    ckpt_dir = Path(ckpt_dir)
    with tempfile.TemporaryDirectory() as tmp:
        with gzip.open(ckpt_dir / (TOKENIZER_FILE + ".gz"), "rb") as src, open(Path(tmp) / TOKENIZER_FILE, "wb") as dst:
            shutil.copyfileobj(src, dst)
        for extra in ckpt_dir.glob("*.json"):
            if extra.name != CONFIG_FILE:
                shutil.copy(extra, tmp)
        return AutoTokenizer.from_pretrained(tmp)
