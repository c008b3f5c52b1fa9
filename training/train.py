"""Train a telltale model: config -> corpus -> examples -> Trainer -> checkpoint (+ character n-grams,
a pruned vocabulary, an artifact head) -> calibration and the yardstick report (`evaluate: true` or --evaluate).

    python -m training.train --config configs/recipe.yaml [--set key=value ...] [--evaluate]

The same command runs on a CPU or one GPU (the Trainer picks CUDA when present). Run again after a
kill, it resumes: training from its last Trainer checkpoint, and a stage whose output exists
(the checkpoint, its yardstick report) is not run again. Delete `output_dir` to start afresh.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch
from datasets import concatenate_datasets
from transformers import AutoTokenizer, Trainer, TrainingArguments

from model import checkpoint, network
from model.base import base_path
from training.artifact_head import add_artifact_head
from training.config import TrainConfig, command_parser
from training.corpus import Collator, build_examples, load_spans, load_splits, split_of
from training.ngrams import add_ngrams
from training.vocabulary import prune as prune_vocabulary

log = logging.getLogger("telltale.train")


def main(argv=None) -> Path:
    parser = command_parser(__doc__.splitlines()[0], checkpoint=False)
    parser.add_argument("--evaluate", action="store_true",
                        help="fit the calibration and write the yardstick report (training/yardstick.py)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = TrainConfig.from_yaml(args.config, args.overrides)
    out = Path(cfg.output_dir)
    if stages_done(out, cfg):
        log.info("%s holds this config's trained checkpoint already: not training again", out)
    else:
        train(cfg)
    if not cfg.adapter_rank and "ngrams" not in stages_done(out, cfg):
        add_ngrams(out, cfg)  # the linear model beside the transformer (model/ngrams.py)
    if not cfg.adapter_rank and "vocabulary" not in stages_done(out, cfg):
        prune_vocabulary(out, cfg)  # the pieces English news uses (training/vocabulary.py)
    if not cfg.adapter_rank and "artifact_head" not in stages_done(out, cfg):
        add_artifact_head(out, cfg, log.info)  # trained alone on the frozen encoder (training/artifact_head.py)
    if (args.evaluate or cfg.evaluate) and not (out / "yardstick.json").exists():
        from training.yardstick import main as yardstick

        yardstick([str(out), "--fit", "--config", args.config, *[f"--set={o}" for o in args.overrides]])
    return out


def stages_done(out: Path, cfg: TrainConfig) -> list[str]:
    """The stages of `out`'s lineage from the training run with this config on ([] if none)."""
    if not (out / checkpoint.CONFIG_FILE).exists():
        return []
    lineage = checkpoint.read_settings(out)["lineage"]
    runs = [i for i, stage in enumerate(lineage) if stage["stage"] in ("train", "adapter") and stage.get("config") == cfg.to_dict()]
    return [stage["stage"] for stage in lineage[runs[-1]:]] if runs else []


def train(cfg: TrainConfig) -> Path:
    started = time.time()

    splits = load_splits(cfg)
    spans = load_spans(cfg.corpus)
    train_spans = spans.filter(lambda r: split_of(r["group"], cfg.split, cfg.seed) == "train") if spans else None
    log.info("documents: %s", {k: len(v) for k, v in splits.items()})

    tokenizer = AutoTokenizer.from_pretrained(base_path(cfg.base))
    # A fresh balanced sample per epoch (different seed), concatenated: one Trainer pass.
    train = concatenate_datasets([
        build_examples(splits["train"], tokenizer, cfg, cfg.docs_per_epoch, cfg.seed + cfg.sample_seed + epoch,
                       train_spans, cfg.span_examples_per_epoch, cfg.augment, cfg.augment_keeps_clean,
                       cfg.pairs_per_epoch)
        for epoch in range(cfg.epochs)
    ])
    validation = build_examples(splits["validation"], tokenizer, cfg, cfg.validation_docs, cfg.seed)
    log.info("examples: train %d, validation %d (built in %.0fs)", len(train), len(validation),
             time.time() - started)

    init = checkpoint.read_settings(cfg.init_from) if cfg.init_from else {}
    # a network continued from a checkpoint keeps its artifact head's layout (training/artifact_head.py)
    head = init.get("artifact_head")
    model = network.build(cfg.base, artifact_weight=cfg.artifact_weight,
                          artifact_pos_weight=cfg.artifact_pos_weight, artifact_head=head,
                          pair_weight=cfg.pair_weight, pair_margin=cfg.pair_margin)
    if cfg.init_from:
        if init["base"] != cfg.base:
            raise SystemExit(f"init_from {cfg.init_from} was trained on another base than {cfg.base}")
        network.load_weights(model, cfg.init_from)
    if cfg.adapter_rank:
        network.add_adapter(model, cfg.adapter_rank)
    out = Path(cfg.output_dir)
    steps_per_epoch = max(1, math.ceil(len(train) / cfg.epochs / cfg.batch_size))
    eval_steps = steps_per_epoch if cfg.max_steps < 0 else max(1, cfg.max_steps)
    # A killed run resumes from its last Trainer checkpoint: the examples are rebuilt identically
    # from the seeds, so the data order is the same.
    resume = any((out / "trainer").glob("checkpoint-*"))
    training_args = TrainingArguments(
        output_dir=str(out / "trainer"),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size * 2,
        num_train_epochs=1,  # the dataset already holds cfg.epochs fresh samples
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        warmup_steps=int(cfg.warmup_ratio * steps_per_epoch * cfg.epochs),
        weight_decay=cfg.weight_decay,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=1,
        prediction_loss_only=True,
        logging_steps=cfg.logging_steps,
        train_sampling_strategy="group_by_length",  # windows with windows, lone sentences together
        report_to=[],
        seed=cfg.seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),  # only a copy to a GPU gains; on a CPU torch warns
        remove_unused_columns=False,  # a pair row's partner_* columns are the collator's to read
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=train, eval_dataset=validation,
                      data_collator=Collator(tokenizer.pad_token_id))
    result = trainer.train(resume_from_checkpoint=resume or None)
    device = "cuda: " + torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    stage = {"stage": "adapter" if cfg.adapter_rank else "train", "config": cfg.to_dict(), "device": device,
             "seconds": round(time.time() - started), "steps": result.global_step, "train_loss": result.training_loss,
             "validation_loss": next((h["eval_loss"] for h in reversed(trainer.state.log_history) if "eval_loss" in h),
                                     None)}
    if cfg.adapter_rank:  # init_from's checkpoint, as it was (less its reports), plus the adapter
        checkpoint.copy(cfg.init_from, out)
        checkpoint.write_adapter(out, network.adapter_state(model), cfg.adapter_rank, stage)
    else:
        checkpoint.write(out, network.trained_state(model), tokenizer, {
            "base": cfg.base, "max_length": cfg.max_length, "stride": cfg.stride,
            "lineage": init.get("lineage", []) + [stage],
            **({"artifact_head": head} if head else {})})
    elapsed = time.time() - started
    log.info("saved %s after %.0fs on %s", out, elapsed, device)
    return out


if __name__ == "__main__":
    main()
