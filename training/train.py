"""Train a telltale model: config -> corpus -> examples -> Trainer (+ character n-grams) -> checkpoint.

    python -m training.train --config configs/default.yaml [--set key=value ...] [--evaluate]

The same command runs on a CPU or one GPU (the Trainer picks CUDA when present).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import time
from pathlib import Path

import torch
from datasets import concatenate_datasets
from transformers import AutoTokenizer, Trainer, TrainingArguments

from model import network
from model.base import base_path
from training.config import TrainConfig
from training.corpus import Collator, build_examples, load_spans, load_splits, split_of
from training.ngrams import fit_ngrams

log = logging.getLogger("telltale.train")


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--evaluate", action="store_true", help="evaluate the checkpoint on the test split")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = TrainConfig.from_yaml(args.config, args.overrides)
    started = time.time()

    splits = load_splits(cfg)
    spans = load_spans(cfg.corpus)
    train_spans = spans.filter(lambda r: split_of(r["group"], cfg.split, cfg.seed) == "train") if spans else None
    log.info("documents: %s", {k: len(v) for k, v in splits.items()})

    tokenizer = AutoTokenizer.from_pretrained(base_path(cfg.base))
    # A fresh balanced sample per epoch (different seed), concatenated: one Trainer pass.
    train = concatenate_datasets([
        build_examples(splits["train"], tokenizer, cfg, cfg.docs_per_epoch, cfg.seed + cfg.sample_seed + epoch,
                       train_spans, cfg.span_examples_per_epoch, cfg.augment, cfg.augment_keeps_clean)
        for epoch in range(cfg.epochs)
    ])
    validation = build_examples(splits["validation"], tokenizer, cfg, cfg.validation_docs, cfg.seed)
    log.info("examples: train %d, validation %d (built in %.0fs)", len(train), len(validation),
             time.time() - started)

    model = network.build(cfg.base, artifact_weight=cfg.artifact_weight,
                          artifact_pos_weight=cfg.artifact_pos_weight)
    if cfg.init_from:
        if network.read_settings(cfg.init_from)["base"] != cfg.base:
            raise SystemExit(f"init_from {cfg.init_from} was trained on another base than {cfg.base}")
        network.load_weights(model, cfg.init_from)
    if cfg.adapter_rank:
        network.add_adapter(model, cfg.adapter_rank)
    out = Path(cfg.output_dir)
    steps_per_epoch = max(1, math.ceil(len(train) / cfg.epochs / cfg.batch_size))
    eval_steps = steps_per_epoch if cfg.max_steps < 0 else max(1, cfg.max_steps)
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
        save_steps=eval_steps,
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        prediction_loss_only=True,
        logging_steps=cfg.logging_steps,
        train_sampling_strategy="group_by_length",  # windows with windows, lone sentences together
        report_to=[],
        seed=cfg.seed,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=train, eval_dataset=validation,
                      data_collator=Collator(tokenizer.pad_token_id))
    result = trainer.train()
    device = "cuda: " + torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    if cfg.adapter_rank:  # init_from's checkpoint, as it was, plus the adapter
        shutil.copytree(cfg.init_from, out, dirs_exist_ok=True)
        network.save_adapter(model, out, cfg.adapter_rank)
        elapsed = time.time() - started
        settings = network.read_settings(out)
        settings["adapter_training"] = {"config": cfg.to_dict(), "device": device, "seconds": round(elapsed),
                                        "steps": result.global_step, "train_loss": result.training_loss}
        (out / network.CONFIG_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    else:
        ngrams = fit_ngrams(splits["train"], cfg.seed)  # the linear model beside the transformer (model/ngrams.py)
        elapsed = time.time() - started
        network.save(model, tokenizer, out, {
            "base": cfg.base, "max_length": cfg.max_length, "stride": cfg.stride,
            "training": {"config": cfg.to_dict(), "device": device, "seconds": round(elapsed),
                         "steps": result.global_step, "train_loss": result.training_loss,
                         "best_validation_loss": trainer.state.best_metric},
        })
        ngrams.save(out)
    log.info("saved %s after %.0fs on %s", out, elapsed, device)
    if args.evaluate:
        from training.evaluate import evaluate_checkpoint

        evaluate_checkpoint(out, cfg)
    return out


if __name__ == "__main__":
    main()
