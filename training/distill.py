"""Distil a checkpoint into a student with fewer encoder layers (issue 22: documents a second).

    python -m training.distill --config configs/distill.yaml

The student starts as a copy of the teacher that keeps only `student_layers` of its encoder
(DistilBERT's layer-dropping start); its token head reads the student layer that follows the
teacher layers the teacher's head read above. It is then trained to give the teacher's outputs on
the recipe's sample of training windows: its document and sentence label distributions (KL), its
artifact probabilities, and its hidden states where the two line up (the last layer, and the one
the token head reads). The teacher reads a window without punctuation through its adapter, as
`Predictor` does, so the student learns both in one network.

The checkpoint keeps the teacher's tokenizer, character n-grams and calibration, and records the
teacher in its lineage. Then, as training.train does for a network, an artifact head is trained
alone on the student's frozen encoder and its threshold chosen to the false-alarm budget
(training/artifact_head.py): copied from the teacher, the head reads states it was not fitted to.
Like training.train, a killed run resumes from its last Trainer checkpoint, and a finished stage
is not run again.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.nn import functional as F
from transformers import Trainer, TrainingArguments

from model import checkpoint, network
from model.predictor import lacks_punctuation
from training.artifact_head import add_artifact_head
from training.config import TrainConfig, command_parser
from training.corpus import Collator, build_examples, load_splits

log = logging.getLogger("telltale.distill")


def student_of(ckpt_dir: str | Path, layers: tuple) -> network.TelltaleModel:
    """A checkpoint's network without its adapter, keeping only the encoder layers `layers` (all
    of them when empty), in training mode."""
    student = network.load(ckpt_dir, adapter=False)
    network.keep_layers(student.encoder, layers)
    if layers:
        student.artifact_layers = tuple(read_by(layers, t) for t in student.artifact_layers)
    for module in student.encoder.modules():  # encoder dropout off, as training.train has it (3x the step time)
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return student.train()


def read_by(layers: tuple, teacher_state: int) -> int:
    """The student's hidden state that stands for the teacher's `teacher_state` (the output of
    teacher layer teacher_state - 1): the one after the last kept layer below it."""
    return sum(1 for layer in layers if layer < teacher_state)


class DistillTrainer(Trainer):
    def __init__(self, teacher, layers: tuple, tokenizer, label_weight: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.teacher, self.tokenizer_ = teacher.to(self.args.device), tokenizer
        self.label_weight = label_weight
        # (student state, teacher state) pairs whose hidden states are matched
        top = len(teacher.encoder.encoder.layer)
        self.matched = sorted({(len(layers), top)} | {(read_by(layers, t), t) for t in teacher.artifact_layers})

    def teacher_outputs(self, inputs: dict) -> dict:
        """The teacher's outputs (and matched hidden states, by teacher state), each window read
        through the adapter when it lacks punctuation."""
        ids = inputs["input_ids"]
        stripped = torch.tensor([lacks_punctuation(self.tokenizer_.backend.decode(row.tolist())) for row in ids],
                                device=ids.device)
        merged = {}
        with torch.no_grad():
            for adapter in (False, True):
                rows = (stripped == adapter).nonzero().squeeze(1)
                if not len(rows):
                    continue
                with network.adapter_on(self.teacher, adapter):
                    part = self.teacher(**{k: inputs[k][rows] for k in ("input_ids", "attention_mask", "sentence_ids")})
                wanted = {k: part[k] for k in ("logits", "sentence_logits", "token_logits")}
                wanted.update({t: part["hidden_states"][t] for _, t in self.matched})
                for key, value in wanted.items():
                    if value is None:
                        continue
                    if key not in merged:  # sentences: as many as the whole batch's widest window holds
                        width = int(inputs["sentence_ids"].max()) + 1 if key == "sentence_logits" else value.shape[1]
                        merged[key] = value.new_zeros((len(ids), width, *value.shape[2:]))
                    merged[key][rows, : value.shape[1]] = value
        return merged

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher = self.teacher_outputs(inputs)
        labelled = self.label_weight > 0  # the corpus's own labels beside the teacher's distributions
        out = model(inputs["input_ids"], inputs["attention_mask"], inputs["sentence_ids"],
                    labels=inputs["labels"] if labelled else None,
                    sentence_labels=inputs["sentence_labels"] if labelled else None)
        loss = kl(out["logits"], teacher["logits"])
        if labelled:
            loss = loss + self.label_weight * out["loss"]
        if out["sentence_logits"] is not None:
            n_sent = out["sentence_logits"].shape[1]
            present = (inputs["sentence_ids"].unsqueeze(1) == torch.arange(n_sent, device=loss.device)[None, :, None]).any(-1)
            loss = loss + kl(out["sentence_logits"][present], teacher["sentence_logits"][present])
        mask = inputs["attention_mask"].bool()
        target = torch.softmax(teacher["token_logits"], -1)[..., 1][mask]
        loss = loss + F.binary_cross_entropy_with_logits(
            (out["token_logits"][..., 1] - out["token_logits"][..., 0])[mask], target)
        for s, t in self.matched:
            loss = loss + F.mse_loss(out["hidden_states"][s][mask], teacher[t][mask])
        return (loss, out) if return_outputs else loss


def kl(student_logits, teacher_logits) -> torch.Tensor:
    return F.kl_div(F.log_softmax(student_logits, -1), F.log_softmax(teacher_logits, -1), log_target=True,
                    reduction="batchmean")


def distill(cfg: TrainConfig) -> Path:
    started = time.time()
    out = Path(cfg.output_dir)
    splits = load_splits(cfg)
    tokenizer = checkpoint.load_tokenizer(cfg.teacher)
    train = build_examples(splits["train"], tokenizer, cfg, cfg.docs_per_epoch, cfg.seed + cfg.sample_seed,
                           augment=cfg.augment, keep_clean=cfg.augment_keeps_clean)
    validation = build_examples(splits["validation"], tokenizer, cfg, cfg.validation_docs, cfg.seed)
    log.info("examples: train %d, validation %d (built in %.0fs)", len(train), len(validation), time.time() - started)

    teacher = network.load(cfg.teacher)
    # a second pass continues a student (init_from) instead of cutting the teacher again
    student = student_of(cfg.init_from, ()) if cfg.init_from else student_of(cfg.teacher, cfg.student_layers)
    resume = any((out / "trainer").glob("checkpoint-*"))
    args = TrainingArguments(
        output_dir=str(out / "trainer"), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size * 2, num_train_epochs=1, max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        warmup_steps=int(cfg.warmup_ratio * len(train) / cfg.batch_size), weight_decay=cfg.weight_decay,
        eval_strategy="no", save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=1,
        logging_steps=cfg.logging_steps, train_sampling_strategy="group_by_length", report_to=[], seed=cfg.seed,
        prediction_loss_only=True, dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available())
    trainer = DistillTrainer(teacher, cfg.student_layers, tokenizer, cfg.distill_label_weight, model=student, args=args,
                             train_dataset=train, data_collator=Collator(tokenizer.pad_token_id))
    result = trainer.train(resume_from_checkpoint=resume or None)
    validation_loss = trainer.evaluate(validation)["eval_loss"]

    # the teacher's tokenizer, n-grams, calibration and lineage; the student's weights and shape
    checkpoint.copy(cfg.init_from or cfg.teacher, out, leave_out=(checkpoint.ADAPTER_FILE,))
    device = "cuda: " + torch.cuda.get_device_name() if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    stage = {"stage": "distill", "teacher": str(cfg.teacher), "config": cfg.to_dict(), "device": device,
             "seconds": round(time.time() - started), "steps": result.global_step, "train_loss": result.training_loss,
             "validation_loss": validation_loss}
    head = checkpoint.read_settings(out).get("artifact_head", {})
    checkpoint.write_weights(out, network.trained_state(student), {
        "encoder_layers": student.encoder.config.num_hidden_layers, "adapter_rank": 0,
        "artifact_head": {**head, "layers": list(student.artifact_layers)}}, stage)
    log.info("saved %s after %.0fs on %s", out, time.time() - started, device)
    return out


def main(argv=None) -> Path:
    parser = command_parser(__doc__.splitlines()[0], checkpoint=False)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cfg = TrainConfig.from_yaml(args.config, args.overrides)
    if not cfg.teacher or not cfg.student_layers:
        raise SystemExit("distillation needs `teacher` (a checkpoint) and `student_layers` in the config")
    out = Path(cfg.output_dir)
    if (out / checkpoint.CONFIG_FILE).exists():
        log.info("%s holds a distilled network already: delete it to distil again", out)
    else:
        distill(cfg)
    settings = checkpoint.read_settings(out)
    if settings["lineage"][-1]["stage"] == "distill":  # its own artifact head, as training.train gives a network
        add_artifact_head(out, replace(cfg, artifact_layers=tuple(settings["artifact_head"]["layers"])), log.info)
    return out


if __name__ == "__main__":
    main()
