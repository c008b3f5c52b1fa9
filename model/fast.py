"""The CPU path (issue 22): a checkpoint's network as ONNX, run by ONNX Runtime.

The graph is the encoder after its word embeddings, and the token head (one more graph with the
no-punctuation adapter, when the checkpoint has one); it gives the last hidden states and each
token's artifact probability. ONNX Runtime's transformer optimizer fuses its attention, layer
norms and GELUs (`fuse`: the same outputs, about 1.5x the speed). The word embeddings (250k x
384, the base's, frozen) are a memory-mapped array: a document pages in only the rows of its own
pieces, so they cost next to no memory. The sequence head, a matrix product, runs here in numpy
on the pooled states. Outputs are the torch network's, to float rounding; neither torch nor
transformers is imported to run it, which is most of a cold start.

Each graph also comes in int8 (`quantize_int8`, the `int8` backend): ONNX Runtime's dynamic
quantization of INT8_LAYERS, 1.4-1.6x faster again on a CPU with int8 instructions, at the
memory and start-up of fp32 ONNX; its outputs move a little, so a checkpoint's calibration keeps
an artifact threshold for it.

The ONNX files are built from the checkpoint on first use (seconds to a minute, with torch) and
cached outside the repo under ~/.cache/telltale/onnx (TELLTALE_CACHE), keyed by the checkpoint's
files, as the base encoder's conversion is (model/base.py).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

from model import checkpoint
from model.base import cache_dir
from model.text import batch_arrays

PLAIN, ADAPTED = "network.onnx", "network-no-punctuation.onnx"
HEADS, EMBEDDINGS = "heads.npz", "word_embeddings.npy"
FORMAT = 4  # bump when the export changes: older caches are rebuilt

# What the int8 graphs quantize, and how; the yardstick's run cache is keyed by it. The
# feed-forward output projection stays fp32: its inputs (after GELU) have outliers that one scale
# per tensor cannot hold, and quantized (by torch, docs/experiments) it moved document logits 6x
# and artifact scores 3x as much as all the other layers together, for 5% of the speed. Weights
# are 7-bit: without VNNI (AVX2 only) the 8-bit product of ONNX Runtime's kernel can saturate.
INT8_LAYERS = ("onnxruntime: attention and every linear layer but the feed-forward output; weights 7-bit, per output "
               "channel; the adapted graph fp32")


def cache_path(ckpt_dir: str | Path) -> Path:
    """Where `ckpt_dir`'s ONNX files live: keyed by the bytes of the files they are made from."""
    digest = hashlib.sha256(str(FORMAT).encode())
    for name in (checkpoint.CONFIG_FILE, checkpoint.WEIGHTS_FILE, checkpoint.ADAPTER_FILE, checkpoint.TOKENIZER_FILE + ".gz"):
        path = Path(ckpt_dir) / name
        if path.exists():
            digest.update(name.encode() + path.read_bytes() if name != checkpoint.CONFIG_FILE else
                          json.dumps({k: v for k, v in checkpoint.read_settings(ckpt_dir).items()
                                      if k in ("base", "adapter_rank", "artifact_head", "encoder_layers")}).encode())
    return cache_dir() / "onnx" / digest.hexdigest()[:16]


def export(ckpt_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the ONNX graph(s), word embeddings and heads of `ckpt_dir` into `out_dir` (needs torch)."""
    import torch

    from model.network import adapter_on, artifact_features, load

    model = load(ckpt_dir, "cpu")
    # ONNX Runtime's optimizer fuses attention from the eager graph only: the sdpa export builds
    # its mask with ops the fusion does not recognise
    model.encoder.set_attn_implementation("eager")
    out = Path(out_dir)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.partial")  # two processes may build at once
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)

    class Encoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, inputs_embeds, attention_mask):
            out = self.model.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                                     output_hidden_states=True)
            # the heads in the graph: in numpy they were a fifth of the 4-layer student's time
            features = artifact_features(out.hidden_states, self.model.artifact_layers)
            return out.last_hidden_state, self.model.artifact_probability(features, self.model.token_head(features))

    embeddings = model.encoder.embeddings.word_embeddings.weight.detach()
    np.save(tmp / EMBEDDINGS, embeddings.float().numpy())
    # a padded row in the example: traced on an all-ones mask, the graph would drop the mask
    mask = torch.ones((2, 16), dtype=torch.long)
    mask[1, 10:] = 0
    example = (embeddings[torch.ones_like(mask)], mask)
    graphs = [(PLAIN, False)] + ([(ADAPTED, True)] if checkpoint.read_settings(ckpt_dir).get("adapter_rank") else [])
    for name, adapter in graphs:
        # the tracer's warnings are about branches on shapes that the padded example settles
        with adapter_on(model, adapter), torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Encoder(model).eval(), example,
                              str(tmp / name), dynamo=False, input_names=["inputs_embeds", "attention_mask"],
                              output_names=["hidden", "artifact"],
                              dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "hidden": {0: "batch", 1: "tokens"},
                                            "artifact": {0: "batch", 1: "tokens"}}, opset_version=17)
        fuse(tmp / name, model.encoder.config)
        if not adapter:  # int8 reads the adapted graph in fp32 (OnnxNetwork._session)
            quantize_int8(tmp / name, tmp / int8_name(name))
    heads = {}
    for prefix, adapter in (("", False), ("adapted_", True)):  # the adapter reaches the sequence head
        with adapter_on(model, adapter), torch.inference_mode():
            layer, eye = model.sequence_head, torch.eye(model.encoder.config.hidden_size)
            bias = layer(torch.zeros_like(eye[:1]))[0]
            heads[f"{prefix}sequence_head.weight"], heads[f"{prefix}sequence_head.bias"] = (layer(eye) - bias).T.numpy(), bias.numpy()
    np.savez(tmp / HEADS, **{k.replace(".", "/"): v for k, v in heads.items()})
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: its files are the same
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def fuse(graph: Path, config) -> None:
    """Rewrite `graph` with ONNX Runtime's transformer fusions (attention, skip layer norm, bias
    GELU): the same outputs to float rounding, about 1.5x the documents/s on a CPU."""
    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)  # its progress notes
    optimize_model(str(graph), model_type="bert", num_heads=config.num_attention_heads,
                   hidden_size=config.hidden_size).save_model_to_file(str(graph))


def int8_name(graph: str) -> str:
    return graph.replace(".onnx", "-int8.onnx")


def quantize_int8(graph: Path, out: Path) -> None:
    """INT8_LAYERS of the encoder in `graph` with int8 weights, their inputs quantized on the fly."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the encoder's linear layers, not an adapter's low-rank matrices beside them (".../default/MatMul")
    linear = re.compile(r"/encoder/encoder/layer\.\d+/.*/(query|key|value|dense)(/base_layer)?/MatMul$")
    feed_forward_output = re.compile(r"layer\.\d+/output/dense/")
    model = onnx.load(str(graph))
    chosen = [node.name for node in model.graph.node
              if node.op_type == "Attention" or linear.search(node.name) and not feed_forward_output.search(node.name)]
    logging.disable(logging.WARNING)  # quantize_dynamic's advice to pre-process the graph
    try:  # DefaultTensorType: the fused ops' output type, which ONNX's shape inference does not know
        quantize_dynamic(model, out, per_channel=True, reduce_range=True, weight_type=QuantType.QInt8,
                         nodes_to_quantize=chosen, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logging.disable(logging.NOTSET)


class OnnxNetwork:
    """Runs windows as `model.network.TorchNetwork` does, through ONNX Runtime."""

    # Fewer windows a pass are lighter, and faster here: on 2 cores, 32 windows of 256 tokens
    # spill the caches (docs/benchmarks.md: 8 against 32, 215-320 MB less, int8 1.2x the documents/s)
    windows_per_pass = 8

    def __init__(self, folder: Path, pad_id: int = 1, threads: int | None = None, int8: bool = False):
        import onnxruntime as ort

        self.folder, self.pad_id, self.int8 = folder, pad_id, int8
        self.options = ort.SessionOptions()
        # every core this process may use: left at 0, onnxruntime took one of two here
        self.options.intra_op_num_threads = threads or int(os.environ.get("TELLTALE_THREADS", 0)) or len(os.sched_getaffinity(0))
        self.sessions = {}
        self.heads = {k.replace("/", "."): v for k, v in np.load(folder / HEADS).items()}
        self.embeddings = np.load(folder / EMBEDDINGS, mmap_mode="r")

    @classmethod
    def load(cls, ckpt_dir: str | Path, pad_id: int = 1, int8: bool = False) -> "OnnxNetwork":
        folder = cache_path(ckpt_dir)
        if not (folder / PLAIN).exists():
            print(f"telltale: building the ONNX model of {ckpt_dir} (once; it is cached in {folder.parent})",
                  file=sys.stderr)
            export(ckpt_dir, folder)
        return cls(folder, pad_id, int8=int8)

    def _session(self, adapter: bool):
        adapted = adapter and (self.folder / ADAPTED).exists()
        # int8 reads text without punctuation through the fp32 adapted graph: on the stage-7 network
        # the int8 adapted graph moved probabilities 5x as much as it did on stage 6 (mean 0.016,
        # max 0.19, 3 of 60 stripped validation texts relabelled), and such text is rare in news
        name = (int8_name if self.int8 and not adapted else str)(ADAPTED if adapted else PLAIN)
        if name not in self.sessions:  # the adapted graph only once text without punctuation comes
            import onnxruntime as ort

            self.sessions[name] = ort.InferenceSession(str(self.folder / name), self.options,
                                                       providers=["CPUExecutionProvider"])
        return self.sessions[name], adapted

    def forward(self, windows, adapter: bool = False) -> list[tuple]:
        ids, mask, sentence_ids = batch_arrays(windows, self.pad_id)
        session, adapted = self._session(adapter)
        hidden, artifact = session.run(["hidden", "artifact"],
                                       {"inputs_embeds": self.embeddings[ids], "attention_mask": mask})
        prefix = "adapted_" if adapted else ""
        w, b = self.heads[f"{prefix}sequence_head.weight"], self.heads[f"{prefix}sequence_head.bias"]
        m = mask[..., None].astype(hidden.dtype)
        logits = ((hidden * m).sum(1) / np.maximum(m.sum(1), 1)) @ w.T + b
        out = []
        for r in range(len(windows)):
            n_sent = int(sentence_ids[r].max()) + 1
            if n_sent > 0:
                member = (sentence_ids[r][None, :] == np.arange(n_sent)[:, None]).astype(hidden.dtype)
                sentences = (member @ hidden[r]) / np.maximum(member.sum(1, keepdims=True), 1) @ w.T + b
            else:
                sentences = None
            out.append((logits[r], sentences, artifact[r]))
        return out
