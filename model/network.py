"""The telltale network.

One encoder, two heads trained together:
- a sequence head over mean-pooled token states. The same head scores a whole window
  (the document level) and each sentence inside it (tokens pooled per sentence), so a
  lone sentence given as input gets the same answer at both levels;
- a token head: is this token an MT/rewrite artifact? Trained with the rest, it reads the last
  layer through one linear layer. A checkpoint's `artifact_head` settings may instead give it
  middle layers and a hidden layer (training/artifact_head.py trains such a head alone, on the
  frozen encoder): a word that does not belong shows more in the middle layers than in the last,
  which the document labels shape.

Optionally a LoRA adapter (peft) that text without punctuation is read through. What is stored
where is model/checkpoint.py's business.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from model import checkpoint
from model.base import base_path
from model.labels import IGNORE, LABELS, ORIGINAL
from model.text import batch_arrays

FROZEN_PREFIX = "encoder.embeddings.word_embeddings."
# Every linear layer of the encoder ("dense" is the attention output and both feed-forward ones)
# and the sequence head: at rank 4, 0.7 MB in fp16.
ADAPTER_TARGETS = ["query", "key", "value", "dense", "sequence_head"]


class TelltaleModel(nn.Module):
    def __init__(self, encoder, artifact_weight: float = 1.0, artifact_pos_weight: float = 5.0,
                 artifact_head: dict | None = None, pair_weight: float = 1.0, pair_margin: float = 1.0):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(0.1)
        self.sequence_head = nn.Linear(hidden, len(LABELS))
        # which hidden states the token head reads (0 = the embeddings' output), and its hidden size
        head = artifact_head or {}
        self.artifact_layers = tuple(head.get("layers", [encoder.config.num_hidden_layers]))
        self.token_head = token_head(hidden * len(self.artifact_layers), head.get("hidden", 0))
        # A second head on the same features for words translated alone ("Collets" for clashes;
        # training/artifact_head.py), with a false-alarm budget of its own: trained into the first,
        # this source took the first's precision on MT and MQM errors.
        self.word_mt_head = (token_head(hidden * len(self.artifact_layers), head["word_mt_hidden"])
                             if "word_mt_hidden" in head else None)
        self.artifact_weight = artifact_weight
        self.pair_weight, self.pair_margin = pair_weight, pair_margin
        self.register_buffer("artifact_class_weight", torch.tensor([1.0, artifact_pos_weight]), persistent=False)
        self.encoder.embeddings.word_embeddings.weight.requires_grad = False

    def forward(self, input_ids, attention_mask, sentence_ids=None, labels=None, sentence_labels=None,
                token_labels=None, pair_with=None):
        encoded = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        hidden = self.dropout(encoded.last_hidden_state)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        logits = self.sequence_head(pooled)
        features = artifact_features(encoded.hidden_states, self.artifact_layers)
        token_logits = self.token_head(self.dropout(features))
        sentence_logits = None
        if sentence_ids is not None and sentence_ids.shape[1] > 0:
            # sentence_ids: [batch, seq] index of each token's sentence within the window, -1 = none
            n_sent = int(sentence_ids.max().item()) + 1 if sentence_ids.numel() else 0
            if n_sent > 0:
                member = (sentence_ids.unsqueeze(1) == torch.arange(n_sent, device=hidden.device)[None, :, None])
                member = member.to(hidden.dtype)  # [batch, n_sent, seq]
                sent_pooled = member @ hidden / member.sum(-1, keepdim=True).clamp(min=1)
                sentence_logits = self.sequence_head(sent_pooled)

        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits, labels, ignore_index=IGNORE)
            if sentence_labels is not None and sentence_logits is not None:
                sl = sentence_labels[:, : sentence_logits.shape[1]]
                if (sl != IGNORE).any():
                    loss = loss + F.cross_entropy(sentence_logits.reshape(-1, len(LABELS)), sl.reshape(-1),
                                                  ignore_index=IGNORE)
            if token_labels is not None and (token_labels != IGNORE).any():
                loss = loss + self.artifact_weight * F.cross_entropy(
                    token_logits.reshape(-1, 2), token_labels.reshape(-1),
                    weight=self.artifact_class_weight, ignore_index=IGNORE)
            if pair_with is not None and (pair_with >= 0).any():
                loss = loss + self.pair_weight * pair_loss(logits, labels, pair_with, self.pair_margin)
        return {"loss": loss, "logits": logits, "sentence_logits": sentence_logits, "token_logits": token_logits,
                "artifact": self.artifact_probability(features, token_logits), "hidden_states": encoded.hidden_states}

    def artifact_probability(self, features, token_logits) -> torch.Tensor:
        """Each token's probability of being an artifact, from its features and the token head's
        logits on them (the caller has them: not computed twice): the more certain of the two heads
        (each one's softmax, as the word-mt head's bias is set for them to share a threshold)."""
        margin = artifact_margin(token_logits)
        if self.word_mt_head is not None:
            margin = torch.maximum(margin, artifact_margin(self.word_mt_head(features)))
        return torch.sigmoid(margin)


def pair_loss(logits, labels, pair_with, margin: float) -> torch.Tensor:
    """Each machine-made row's margin for its own label over `original` must exceed its human
    partner's margin for the same label by `margin` (a logistic ranking loss): the two hold the
    same content, so the difference can only come from how each was written."""
    rows = (pair_with >= 0).nonzero().squeeze(1)
    partners, label = pair_with[rows], labels[rows]

    def lead(r):
        return logits[r, label] - logits[r, ORIGINAL]

    return F.softplus(margin - (lead(rows) - lead(partners))).mean()


def artifact_margin(token_logits: torch.Tensor) -> torch.Tensor:
    """A token head's "artifact" logit over its "clean" one: the softmax's artifact probability is its sigmoid."""
    return token_logits[..., 1] - token_logits[..., 0]


def token_head(inputs: int, hidden: int) -> nn.Module:
    """Artifact logits from a token's features: one linear layer, or two with a hidden layer
    (tanh GELU: the shipped heads were trained with it)."""
    if not hidden:
        return nn.Linear(inputs, 2)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, 2))


def artifact_features(hidden_states, layers) -> torch.Tensor:
    """What the token head reads: the hidden states of `layers`, side by side."""
    return torch.cat([hidden_states[i] for i in layers], -1)


def build(base: str, **kwargs) -> TelltaleModel:
    from transformers import AutoModel

    # Encoder dropout off: on a CPU it more than doubles the step time (attention dropout
    # rules out the fused attention kernel); the heads keep theirs.
    encoder = AutoModel.from_pretrained(base_path(base), add_pooling_layer=False, hidden_dropout_prob=0.0,
                                        attention_probs_dropout_prob=0.0)
    return TelltaleModel(encoder, **kwargs)


def keep_layers(encoder, layers) -> None:
    """Keep only the encoder layers `layers` (indices, in order; all of them when empty): a
    distilled student's shape (training/distill.py). Its checkpoint stores them as 0..n-1, so
    loading one keeps `range(n)`."""
    if len(layers):
        encoder.encoder.layer = nn.ModuleList(encoder.encoder.layer[i] for i in layers)
        encoder.config.num_hidden_layers = len(layers)


def trained_state(model: TelltaleModel) -> dict:
    """What a checkpoint stores of `model`: all but the frozen word embeddings and the adapter."""
    return {k: v for k, v in model.state_dict().items() if not k.startswith(FROZEN_PREFIX) and "lora_" not in k}


def adapter_state(model: TelltaleModel) -> dict:
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}


def load(ckpt_dir: str | Path, device: str | torch.device = "cpu", adapter: bool = True) -> TelltaleModel:
    """A checkpoint's network, in eval mode on `device` (with its adapter, if it has one and `adapter`)."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    settings = checkpoint.read_settings(ckpt_dir)
    # The base's own weights (no random init), then everything the checkpoint trained on top:
    # only the frozen word embeddings are left from the base. Quietly: its load report
    # (an unused pooler) and progress bar mean nothing to a user of the checkpoint.
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        encoder = AutoModel.from_pretrained(base_path(settings["base"]), add_pooling_layer=False)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    keep_layers(encoder, range(settings.get("encoder_layers", 0)))
    rows = checkpoint.base_rows(ckpt_dir, base_path(settings["base"]))
    if rows is not None:  # the checkpoint's tokenizer keeps fewer pieces: their rows, in its order
        embeddings = encoder.embeddings.word_embeddings.weight.detach()[torch.from_numpy(rows)]
        encoder.embeddings.word_embeddings = nn.Embedding.from_pretrained(embeddings, freeze=True)
        encoder.config.vocab_size = len(rows)
    model = load_weights(TelltaleModel(encoder, artifact_head=settings.get("artifact_head")), ckpt_dir)
    if adapter and settings.get("adapter_rank"):
        add_adapter(model, settings["adapter_rank"])
        _overlay(model, checkpoint.read_adapter(ckpt_dir), lambda k: "lora_" in k, ckpt_dir)
    return model.to(device).eval()


class TorchNetwork:
    """A checkpoint's network run by torch, as `Predictor` runs a network (model/fast.py has the
    other): windows in, per window (document logits, sentence logits, artifact probabilities) out."""

    windows_per_pass = 16

    def __init__(self, model: TelltaleModel, pad_id: int, device="cpu"):
        self.model, self.pad_id, self.device = model, pad_id, device

    @classmethod
    def load(cls, ckpt_dir: str | Path, device: str = "cpu", pad_id: int = 1) -> "TorchNetwork":
        return cls(load(ckpt_dir, device), pad_id, device)

    @torch.inference_mode()
    def forward(self, windows, adapter: bool = False) -> list[tuple]:
        ids, mask, sentence_ids = (torch.from_numpy(a) for a in batch_arrays(windows, self.pad_id))
        with adapter_on(self.model, adapter):
            out = self.model(ids.to(self.device), mask.to(self.device), sentence_ids.to(self.device))
        logits = out["logits"].float().cpu().numpy()
        sent = out["sentence_logits"]
        sent = sent.float().cpu().numpy() if sent is not None else None
        artifact = out["artifact"].float().cpu().numpy()
        return [(logits[r], sent[r] if sent is not None else None, artifact[r]) for r in range(len(windows))]


def load_weights(model: TelltaleModel, ckpt_dir: str | Path) -> TelltaleModel:
    """Overlay a checkpoint's trained weights on `model` (built on the checkpoint's base)."""
    return _overlay(model, checkpoint.read_weights(ckpt_dir), lambda k: not k.startswith(FROZEN_PREFIX)
                    and "lora_" not in k, ckpt_dir)


def _overlay(model, state: dict, expected, ckpt_dir) -> TelltaleModel:
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(expected(k) for k in missing):
        raise ValueError(f"{ckpt_dir}: weights do not fit the model (missing {[k for k in missing if expected(k)][:3]}, "
                         f"unexpected {unexpected[:3]})")
    return model


def add_adapter(model: TelltaleModel, rank: int) -> TelltaleModel:
    """Put LoRA matrices of `rank` into `model`, in place; only they are left trainable."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=ADAPTER_TARGETS)
    return inject_adapter_in_model(config, model)


@contextmanager
def adapter_on(model: TelltaleModel, on: bool):
    """Run `model` with its adapter (a model without one runs as it is)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    for m in layers:
        m.enable_adapters(on)
    try:
        yield model
    finally:
        for m in layers:
            m.enable_adapters(True)
