"""Training configuration: plain values, read from YAML, overridable with ``--set key=value``."""
from __future__ import annotations

import argparse
import ast
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from model.base import BASES
from model.labels import LABELS
from training.perturb import AUGMENTATIONS
from training.roundtrips import HELD_OUT_PIVOT, PIVOTS


@dataclass
class TrainConfig:
    corpus: str = "../shared/corpus"  # directory with docs.jsonl.gz (and optionally spans.jsonl.gz)
    output_dir: str = "runs/default"  # the checkpoint directory written at the end
    base: str = "e5-small"  # pretrained encoder (model/base.py)
    seed: int = 13
    split: tuple = (0.8, 0.1, 0.1)  # train / validation / test share of groups
    max_docs: int = 0  # use only this many documents (0 = all); for smoke runs
    # every group holding a document of these sources is the out-of-distribution dev set: never
    # trained on, it judges generalization (issue 20)
    ood_sources: tuple = ("wmt23", "l2r")
    # Apertium pivots whose round trips of the train split's English originals join training
    # (training/roundtrips.py): rule-based MT, which the corpus lacks
    rule_based_pivots: tuple = ()

    # examples
    max_length: int = 256  # tokens per document window, start/end tokens included
    stride: int = 192  # tokens between window starts (256 - 192 = 64 tokens of overlap)
    docs_per_epoch: int = 8000  # documents sampled per epoch: one window + one lone sentence each
    span_examples_per_epoch: int = 1000  # annotated MT segments (spans.jsonl.gz) per epoch
    label_weights: dict = field(default_factory=lambda: {"original": 0.4, "machine-translated": 0.3,
                                                          "ai-rewritten": 0.3})
    validation_docs: int = 500  # validation documents used for model selection during training
    augment: float = 0.0  # share of training documents given random casing and/or stripped punctuation
    augment_keeps_clean: bool = False  # the perturbed copy comes beside the clean document, not instead of it
    augmentations: tuple = tuple(AUGMENTATIONS)  # the attacks drawn from (names in training/perturb.py)
    mixed: float = 0.0  # share of machine-made documents with an original that become mixed documents
    sample_seed: int = 0  # added to the seed of each epoch's sample: a continued run draws new documents
    init_from: str = ""  # a checkpoint directory to continue training from ("" = the bare base encoder)
    # > 0: train only LoRA matrices of this rank on init_from's network, kept frozen, for the
    # checkpoint to read text without punctuation through (the run's augmentations say what it sees)
    adapter_rank: int = 0

    # optimisation
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    artifact_weight: float = 0.5  # weight of the token (artifact) loss beside the label losses
    artifact_pos_weight: float = 5.0  # class weight of the rare "artifact" tokens
    # machine-made documents per epoch trained beside a human version of the same text, with a
    # ranking term between the two (training/corpus.py pair_examples, model/network.py pair_loss)
    pairs_per_epoch: int = 0
    pair_weight: float = 1.0
    pair_margin: float = 1.0
    logging_steps: int = 25
    save_steps: int = 200  # a Trainer checkpoint this often, for a killed run to resume from
    max_steps: int = -1  # stop after this many steps (-1 = run all epochs)

    # the artifact head trained alone on the frozen encoder (training/artifact_head.py)
    artifact_layers: tuple = (9,)  # hidden states it reads (0 = embeddings, 12 = e5-small's last layer)
    artifact_hidden: int = 256  # its hidden layer (0 = one linear layer)
    artifact_sources: tuple = ("human", "synthetic", "round-trip", "mqm")  # what its labels come from
    artifact_windows: int = 600  # training windows from each source
    synthetic_rate: float = 0.04  # share of a synthetic document's content words replaced
    # > 0: a second head, trained on "human" and "word-mt" windows only, beside the checkpoint's
    # own; it may flag this share of human-written words alone, and both together one in 300
    word_mt_budget: float = 0.0

    # a student distilled from `teacher` (a checkpoint) keeping these of its encoder layers (training/distill.py)
    teacher: str = ""
    student_layers: tuple = ()
    # weight of the corpus's labels (document and sentence cross-entropy) beside the teacher's
    # distributions: a student fitted to soft targets alone comes out flatter than its teacher
    distill_label_weight: float = 0.0

    evaluate: bool = False  # after training: calibration and the yardstick report (training/yardstick.py)

    def __post_init__(self):
        if self.base not in BASES:
            raise ValueError(f"base must be one of {BASES}, not {self.base!r}")
        if set(self.label_weights) != set(LABELS):
            raise ValueError(f"label_weights needs exactly the labels {LABELS}")
        if not 0 < self.stride <= self.max_length - 2:
            raise ValueError("stride must be between 1 and max_length - 2")
        self.split = tuple(self.split)
        self.augmentations = tuple(self.augmentations)
        self.ood_sources = tuple(self.ood_sources)
        self.rule_based_pivots = tuple(self.rule_based_pivots)
        if set(self.rule_based_pivots) - set(PIVOTS) or HELD_OUT_PIVOT in self.rule_based_pivots:
            raise ValueError(f"rule_based_pivots are some of {sorted(set(PIVOTS) - {HELD_OUT_PIVOT})} "
                             f"({HELD_OUT_PIVOT} is held out for the yardstick)")
        self.student_layers = tuple(self.student_layers)
        if not self.augmentations or set(self.augmentations) - set(AUGMENTATIONS):
            raise ValueError(f"augmentations are some of {list(AUGMENTATIONS)}")
        for key in ("augment", "mixed"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"{key} is a share between 0 and 1")
        if self.adapter_rank and not self.init_from:
            raise ValueError("adapter_rank needs init_from: the checkpoint the adapter is trained on")
        if len(self.split) != 3 or abs(sum(self.split) - 1) > 1e-6:
            raise ValueError("split needs three shares summing to 1")

    @classmethod
    def from_yaml(cls, path: str | Path | None, overrides: list[str] = ()) -> "TrainConfig":
        values = yaml.safe_load(Path(path).read_text()) or {} if path else {}
        for item in overrides:
            key, _, raw = item.partition("=")
            try:
                values[key] = ast.literal_eval(raw)
            except (ValueError, SyntaxError):  # as the YAML file would read it: false, runs/x
                values[key] = yaml.safe_load(raw)
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(sorted(unknown))}")
        for key, value in values.items():
            default = getattr(cls(), key)
            if type(default) is float and type(value) is int:
                values[key] = float(value)
            elif type(default) is tuple and type(value) is list:
                values[key] = tuple(value)
            elif type(value) is not type(default):
                raise ValueError(f"config key {key!r} wants {type(default).__name__}, got {value!r}")
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain JSON values (tuples as lists), as a checkpoint's lineage stores them."""
        return json.loads(json.dumps(asdict(self)))


def command_parser(description: str, checkpoint: bool = True) -> argparse.ArgumentParser:
    """The arguments every training command takes: a checkpoint (for those that work on one), the
    config whose corpus, split and held-out sources it reads, and `--set key=value` overrides."""
    parser = argparse.ArgumentParser(description=description)
    if checkpoint:
        parser.add_argument("checkpoint")
    parser.add_argument("--config", default="configs/recipe.yaml", help="the training config (corpus, split, held-out sources)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    return parser
