"""The checkpoint directory: the only code that reads or writes one.

    telltale.json                       schema, labels, base encoder, windowing, calibration, lineage
    tokenizer.json.gz, tokenizer_config.json       the tokenizer: the base's 250k pieces, or those the train
                                        split uses and every single character (`prune_tokenizer`)
    heads_and_encoder.safetensors       fp16: everything trained (the artifact head's layers and size:
                                        `artifact_head` in telltale.json, when not the default). The
                                        frozen word embeddings (96M of e5-small's 118M parameters) are
                                        rebuilt from the base package, so the checkpoint stays small
    char_ngrams.safetensors             the n-gram model mixed into the document verdict (optional)
    no_punctuation_adapter.safetensors  LoRA matrices text without punctuation is read through (optional)

`lineage` in telltale.json lists, oldest first, every stage that made the checkpoint (training
runs with their whole config, the n-gram fit, the calibration), so that it can be rebuilt.
"""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np

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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_fp16(weights, out / WEIGHTS_FILE)
    tokenizer.save_pretrained(out)
    packed = out / TOKENIZER_FILE
    with packed.open("rb") as src, gzip.open(out / (TOKENIZER_FILE + ".gz"), "wb", compresslevel=9) as dst:
        shutil.copyfileobj(src, dst)
    packed.unlink()
    settings = {"schema": SCHEMA, "labels": list(LABELS), "calibration": Calibration().to_dict(), **settings}
    (out / CONFIG_FILE).write_text(json.dumps(settings, indent=2) + "\n")


# What a checkpoint directory may hold beside the checkpoint: its evaluation and the Trainer's state.
REPORTS = ("report.*", "yardstick.*", "*.png", "trainer")


def copy(ckpt_dir: str | Path, out_dir: str | Path, leave_out: tuple = ()) -> None:
    """A checkpoint's files into `out_dir`, for a stage that changes some of them; its reports stay
    behind (they describe the original), and so do the files named in `leave_out`."""
    shutil.copytree(ckpt_dir, out_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*REPORTS, *leave_out))


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


def windowing(settings: dict) -> dict:
    """How a checkpoint cuts a text into windows (model.text.encode_document's keywords)."""
    return {"max_length": settings["max_length"], "stride": settings["stride"],
            "short_last_window": settings.get("short_last_window", False)}


def calibration(ckpt_dir: str | Path) -> Calibration:
    return Calibration.from_dict(read_settings(ckpt_dir)["calibration"])


def write_calibration(ckpt_dir: str | Path, chosen: Calibration, stage: dict) -> None:
    update_settings(ckpt_dir, {"calibration": chosen.to_dict()}, stage)


def write_weights(ckpt_dir: str | Path, weights: dict, values: dict, stage: dict | None = None) -> None:
    """Replace a checkpoint's trained weights (fp16), with the settings they need (`values`). The
    int8 artifact threshold, chosen on the old weights' scores, is cleared (the int8 backend then
    uses the fp32 one, which flags fewer words) until `training.yardstick --fit --backend int8`."""
    _save_fp16(weights, Path(ckpt_dir) / WEIGHTS_FILE)
    cleared = calibration(ckpt_dir).replace(int8_artifact_threshold=0.0).to_dict()
    update_settings(ckpt_dir, {"calibration": cleared, **values}, stage)


def _save_fp16(tensors: dict, path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in tensors.items()}, path)


def read_weights(ckpt_dir: str | Path) -> dict:
    """A checkpoint's trained weights (all but the frozen word embeddings), in float32."""
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(Path(ckpt_dir) / WEIGHTS_FILE).items()}


def write_adapter(ckpt_dir: str | Path, state: dict, rank: int, stage: dict) -> None:
    _save_fp16(state, Path(ckpt_dir) / ADAPTER_FILE)
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


def read_tokenizer_spec(path: str | Path) -> dict:
    """A tokenizer.json, gzipped (a checkpoint's) or not (a base's), as a dict."""
    path = Path(path)
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")) as f:
        return json.load(f)


def prune_tokenizer(ckpt_dir: str | Path, keep: set[str], stage: dict) -> None:
    """Keep only the pieces in `keep` (and the special ones) in the checkpoint's tokenizer.

    A Unigram tokenizer segments text by the best-scoring pieces it has, so text whose pieces
    are all kept is cut exactly as before; other text falls back to shorter pieces (single
    characters, at worst). Ids change: `base_rows` maps them back to the base's embeddings."""
    path = Path(ckpt_dir) / (TOKENIZER_FILE + ".gz")
    spec = read_tokenizer_spec(path)
    vocab, unk = spec["model"]["vocab"], spec["model"]["unk_id"]
    specials = {t["content"] for t in spec["added_tokens"]} | {vocab[unk][0]}
    kept = [pair for pair in vocab if pair[0] in keep or pair[0] in specials]
    new_id = {piece: i for i, (piece, _) in enumerate(kept)}
    spec["model"]["vocab"], spec["model"]["unk_id"] = kept, new_id[vocab[unk][0]]
    for token in spec["added_tokens"]:
        token["id"] = new_id[token["content"]]
    for token in spec["post_processor"]["special_tokens"].values():
        token["ids"] = [new_id[t] for t in token["tokens"]]
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
        json.dump(spec, f, ensure_ascii=False)
    update_settings(ckpt_dir, {}, {**stage, "pieces": len(kept), "of": len(vocab)})


def base_rows(ckpt_dir: str | Path, base_dir: str | Path) -> np.ndarray | None:
    """For each piece of the checkpoint's tokenizer, its row in the base's word embeddings
    (None when the checkpoint keeps the base's whole vocabulary)."""
    ours = read_tokenizer_spec(Path(ckpt_dir) / (TOKENIZER_FILE + ".gz"))["model"]["vocab"]
    base = read_tokenizer_spec(Path(base_dir) / TOKENIZER_FILE)["model"]["vocab"]
    if len(ours) == len(base):
        return None
    row = {piece: i for i, (piece, _) in enumerate(base)}
    return np.array([row[piece] for piece, _ in ours])


class PieceTokenizer:
    """The checkpoint's tokenizer through `tokenizers` alone (transformers takes a second to import),
    called as a transformers tokenizer is where model/text.py windows a document."""

    def __init__(self, backend, special: dict):
        self.backend = backend
        self.cls_token_id, self.sep_token_id, self.pad_token_id = (
            backend.token_to_id(special[k]) for k in ("cls_token", "sep_token", "pad_token"))

    def __call__(self, text: str, add_special_tokens: bool = False, return_offsets_mapping: bool = True,
                 verbose: bool = False) -> dict:
        enc = self.backend.encode(text, add_special_tokens=add_special_tokens)
        return {"input_ids": enc.ids, "offset_mapping": enc.offsets}


def load_tokenizer(ckpt_dir: str | Path) -> PieceTokenizer:
    from tokenizers import Tokenizer

    ckpt_dir = Path(ckpt_dir)
    with gzip.open(ckpt_dir / (TOKENIZER_FILE + ".gz"), "rt", encoding="utf-8") as f:
        backend = Tokenizer.from_str(f.read())
    return PieceTokenizer(backend, json.loads((ckpt_dir / "tokenizer_config.json").read_text()))
