"""The out-of-distribution yardstick (issue 20): cell-balanced figures on data no training run saw.

    python -m training.yardstick CHECKPOINT [--fit] [--config configs/recipe.yaml] [--out DIR] [--no-test]

Every figure is given per cell (training/metrics.py), and the cell-balanced recall averages the
cells with equal weight. Four sets are read:
- `ood`: every group of the held-out sources (wmt23, l2r): MT engines, language pairs and LLMs
  the training split lacks, with their human translations and originals;
- `validation`: at most `--per-cell` documents of each validation cell (the calibration is fitted
  on every human-written validation document, for its per-cell budgets);
- `test`: likewise, read once per shipped model; `--no-test` leaves it unread (a development
  read, to compare candidates before the one that is read).
- `apertium`: rule-based round trips (training/roundtrips.py) of the validation and ood English
  originals through every pivot, at most `--per-cell` a cell: an engine the corpus lacks, with
  one pivot (Galician) that no run trains on. Left out where Apertium is not installed; nothing
  is fitted on it.
With `--fit`, the calibration (temperature, n-gram weight, label prior, the two bars of the
`uncertain` band) is chosen on validation + ood and written into the checkpoint; the test split
is then scored with it. The seeds (../shared/seeds) are scored as `classify` prints them: a
smoke test, never fitted on.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from datasets import concatenate_datasets
from tqdm import tqdm

from model import checkpoint
from model.base import cache_dir
from model.artifacts import word_scores
from model.calibration import Calibration
from model.labels import LABEL2ID, LABELS, ORIGINAL
from model.fast import INT8_LAYERS
from model.predictor import Predictor
from model.text import window_starts
from training.config import TrainConfig, command_parser
from training.corpus import (cell_of, labelled_regions, load_spans, load_splits, mixed_document, originals_by_group,
                             split_of)
from training.evaluate import accuracy_by_length, choose_min_words, predicted_spans, probabilities
from training.metrics import budget_excess, cell_balanced, cell_recall, mixed_sentence_figures, summary, word_prf
from training.render import yardstick_markdown
from training.roundtrips import HELD_OUT_PIVOT, PIVOTS, ApertiumMissing, round_trips

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"
BAND_HUMAN_BUDGET = 0.01  # human-written documents given a definite machine label, with the band on
BAND_MACHINE_BUDGET = 0.05  # machine-made documents given a definite "original", with the band on
ARTIFACT_BUDGET = 1 / 300  # words of human-written text flagged as artifacts
SEED_TRUTH = {"000": "machine-translated", "001": "ai-rewritten", "002": "original", "003": "ai-rewritten",
              "004": "original"}


# --- the model's outputs -------------------------------------------------------------------------


def per_cell_sample(ds, per_cell: int, seed: int) -> tuple[list[dict], list[dict]]:
    """At most `per_cell` documents of each cell; and the human-written documents left out, which
    the calibration's per-cell budgets need (one document of 15 is already 6.7%)."""
    by_cell = defaultdict(list)
    for i, row in enumerate(ds.select_columns(["label", "source", "system", "kind"])):
        by_cell[cell_of(row)].append(i)
    rng = random.Random(seed)
    keep = {i for rows in by_cell.values() for i in rng.sample(rows, min(per_cell, len(rows)))}
    human = [i for cell, rows in by_cell.items() if cell.startswith("original /") for i in rows if i not in keep]
    return [ds[i] for i in sorted(keep)], [ds[i] for i in sorted(human)]


def raw_runs(predictor: Predictor, texts: list[str], desc: str, chunk: int = 64) -> list:
    """The model's raw outputs for each text (calibration is applied afterwards, for free)."""
    runs = []
    for i in tqdm(range(0, len(texts), chunk), desc=desc, unit="chunk"):
        runs += predictor.run(texts[i : i + chunk])
    return runs


class RunCache:
    """Raw runs kept in ~/.cache/telltale/yardstick (TELLTALE_CACHE), so that scoring the same network
    under another calibration costs seconds, not the half hour of a pass over every set. They are
    reused only for the same documents (by id) and while the network's files and windows are the same."""

    def __init__(self, ckpt: Path, corpus: str, int8: bool = False):
        where = str(ckpt.resolve()) + (" int8" if int8 else "")  # onnx and torch give the same runs; int8 its own
        self.path = cache_dir() / "yardstick" / (hashlib.sha256(where.encode()).hexdigest()[:16] + ".pt")
        files = [ckpt / name for name in (checkpoint.WEIGHTS_FILE, checkpoint.NGRAMS_FILE, checkpoint.ADAPTER_FILE,
                                          checkpoint.TOKENIZER_FILE + ".gz")]
        settings = checkpoint.read_settings(ckpt)
        windowing = checkpoint.windowing(settings)
        laid = [window_starts(n, windowing["max_length"] - 2, windowing["stride"], windowing["short_last_window"])
                for n in (520, 1000)]  # as the current rule lays them: a change of rule is a change of key
        self.key = {"files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.exists()],
                    "corpus": corpus, "windows": [windowing, laid], **({"int8": INT8_LAYERS} if int8 else {})}
        stored = torch.load(self.path, weights_only=False) if self.path.exists() else {}
        self.runs = stored.get("runs", {}) if stored.get("key") == self.key else {}

    def get(self, predictor: Predictor, name: str, rows: list[dict]) -> list:
        ids = [r["id"] for r in rows]
        if self.runs.get(name, {}).get("ids") != ids:
            self.runs[name] = {"ids": ids, "runs": raw_runs(predictor, [r["text"] for r in rows], name)}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"key": self.key, "runs": self.runs}, self.path)
        return self.runs[name]["runs"]


# --- calibration, chosen on validation + ood ----------------------------------------------------


def fit_calibration(predictor: Predictor, runs, rows: list[dict], log) -> Calibration:
    """Temperature by cell-weighted log-loss; n-gram weight and label prior by label-balanced recall
    within the English-original cells' budgets (or as little over them as can be); then the two
    bars of the `uncertain` band. The human translations are left out of the prior's choice: no
    prior meets their budget, and with them in it both machine labels were lowered to try
    (docs/experiments/README.md, issue 20's fourth attempt)."""
    gold = np.array([LABEL2ID[r["label"]] for r in rows])
    size = defaultdict(int)
    for r in rows:
        size[cell_of(r)] += 1
    weight = np.array([1 / size[cell_of(r)] for r in rows])
    start = predictor.calibration.replace(label_prior=(1.0,) * len(LABELS))

    def nll(calibration):
        p = probabilities(predictor, runs, calibration)
        return float(-(weight * np.log(p[np.arange(len(gold)), gold] + 1e-12)).sum() / weight.sum())

    best = None
    for ngram_weight in ([0.0, 0.3, 0.6] if predictor.ngrams else [0.0]):
        temperature = min(np.arange(0.5, 3.01, 0.1), key=lambda t: nll(start.replace(
            temperature=float(t), ngram_weight=ngram_weight)))
        candidate = start.replace(temperature=round(float(temperature), 2), ngram_weight=ngram_weight)
        p = probabilities(predictor, runs, candidate)
        for mt, ai in itertools.product([0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0], repeat=2):
            prior = np.array([1.0, mt, ai])
            pred = (p * prior).argmax(1)
            score = cell_balanced(cell_recall(rows, pred))["label_balanced"] or 0.0
            # within the human budgets first (or the least over them), then the best recall, then the mildest prior
            key = (-budget_excess(rows, pred, translations=False), score, -abs(np.log(mt)) - abs(np.log(ai)),
                   -ngram_weight)
            if best is None or key > best[0]:
                best = (key, candidate.replace(label_prior=(1.0, mt, ai)))
    chosen = best[1]
    log(f"calibration: {chosen} (furthest over an English-original budget by {-best[0][0]:.3f}; "
        f"label-balanced recall {best[0][1]:.3f})")
    return fit_bars(predictor, chosen, runs, rows)


def fit_bars(predictor: Predictor, calibration: Calibration, runs, rows: list[dict]) -> Calibration:
    """`calibration` with the two bars of the `uncertain` band chosen to their budgets: human-written
    documents given a definite machine label, machine-made ones given a definite `original`."""
    gold = np.array([LABEL2ID[r["label"]] for r in rows])
    p = probabilities(predictor, runs, calibration)
    pred = p.argmax(1)
    human, machine = gold == ORIGINAL, gold != ORIGINAL
    return calibration.replace(machine_bar=smallest_bar(p[human], pred[human] != ORIGINAL, BAND_HUMAN_BUDGET),
                               original_bar=smallest_bar(p[machine], pred[machine] == ORIGINAL, BAND_MACHINE_BUDGET))


def fit_artifact_threshold(runs, rows: list[dict], budget: float = ARTIFACT_BUDGET) -> float:
    """The smallest artifact threshold at which human-written text gets at most `budget` flagged
    words per word."""
    scores = np.array([s for run, row in zip(runs, rows) if row["label"] == "original"
                       for _, _, s in word_scores(run.token_scores(), run.norm.text)])
    for t in np.arange(0.5, 1.0, 0.01):
        if (scores >= t).mean() <= budget:
            return float(round(t, 2))
    return 0.99


def smallest_bar(probs: np.ndarray, wrong: np.ndarray, budget: float) -> float:
    """Smallest bar on the top probability that leaves at most `budget` of the rows a wrong, definite verdict."""
    for t in np.arange(0.34, 1.0, 0.01):
        if (wrong & (probs.max(1) >= t)).mean() <= budget:
            return float(round(t, 2))
    return 0.99


# --- mixed documents and seeds ----------------------------------------------------------------


def mixed_sentences(predictor: Predictor, ds, n: int, seed: int) -> dict:
    """Sentence labels in mixed documents (an original's opening, then a machine version of it)."""
    rng = random.Random(seed)
    originals = originals_by_group(ds)
    candidates = [r for r in ds if r["label"] != "original" and r["group"] in originals]
    docs = []
    for row in rng.sample(candidates, min(len(candidates), 4 * n)):
        made = mixed_document(originals[row["group"]], row["text"], rng)
        if made:
            docs.append((made, LABEL2ID[row["label"]]))
        if len(docs) == n:
            break
    gold, pred = [], []
    predictions = predictor.predict([text for (text, _), _ in docs], artifacts=False)
    for ((text, machine_from), label), p in zip(docs, predictions):
        for s in p.sentences:
            gold.append(ORIGINAL if s.start < machine_from else label)
            pred.append(LABEL2ID[s.label])
    return {"documents": len(docs), **mixed_sentence_figures(gold, pred)}


def apertium_sample(splits, per_cell: int, seed: int) -> list[dict]:
    """Rule-based round trips (training/roundtrips.py) of the English originals of validation and
    ood, through every pivot, at most `per_cell` a cell: an engine the corpus lacks, on articles no
    run trained on, through a pivot (Galician) no run trained on either."""
    trips = concatenate_datasets([round_trips(splits[name], pivot) for name in ("ood", "validation")
                                  for pivot in PIVOTS])
    return per_cell_sample(trips, per_cell, seed)[0]


def apertium_figures(cells: dict, ood_sources) -> dict:
    """Cell-balanced recall over the held-out pivot's cells, and over the ood articles' cells."""
    held_out = {c: v for c, v in cells.items() if c.endswith(f"apertium-{HELD_OUT_PIVOT}")}
    return {"held_out_pivot": cell_balanced(held_out),
            "ood_articles": cell_balanced({c: v for c, v in cells.items() if c.split(" / ")[1] in ood_sources})}


def seed_verdicts(predictor: Predictor, folder: Path = SEEDS) -> list[dict]:
    files = sorted(folder.glob("0*.txt"))
    predictions = predictor.predict([f.read_text(encoding="utf-8") for f in files], sentences=False)
    return [{"seed": f.name[:3], "truth": SEED_TRUTH.get(f.name[:3]), "label": p.label,
             "probability": round(max(p.probabilities.values()), 3),
             "artifacts": [[a.text, a.kind] for a in p.artifacts]} for f, p in zip(files, predictions)]


def artifact_figures(predictor: Predictor, spans, test_rows: list[dict], test_runs, cfg: TrainConfig) -> dict:
    """Word-level artifact figures at the calibration's threshold, beside flagging every word:
    MQM error spans of the test groups (WMT zh-en), round-trip word changes of the test sample,
    and the share of words flagged in its human-written documents."""
    held = [r for r in spans if split_of(r["group"], cfg.split, cfg.seed) == "test"] if spans else []
    held = held[: cfg.max_docs or None]  # a smoke run's cut of the corpus cuts these too
    out = {}
    if held:
        preds = predictor.predict([r["text"] for r in held], sentences=False)
        out["mqm"] = word_prf([[tuple(s) for s in r["spans"]] for r in held], [predicted_spans(p) for p in preds],
                              [r["text"] for r in held])
    pairs = [(row, predictor.assemble(run, want_sentences=False)) for row, run in zip(test_rows, test_runs)]
    trips = [(row, p) for row, p in pairs if row["kind"] == "mt-roundtrip"]
    if trips:
        out["round_trip"] = word_prf([labelled_regions(row)[0] for row, _ in trips], [predicted_spans(p) for _, p in trips],
                                     [row["text"] for row, _ in trips])
    human = [(row, p) for row, p in pairs if row["label"] == "original"]
    flagged = word_prf([[]] * len(human), [predicted_spans(p) for _, p in human], [row["text"] for row, _ in human])
    out["human_words_flagged"] = flagged["predicted_words"] / flagged["words"] if flagged["words"] else None
    return out


# --- the whole yardstick ---------------------------------------------------------------------------


def run_yardstick(ckpt: str | Path, cfg: TrainConfig, fit: bool | str, per_cell: int = 25, mixed_docs: int = 150,
                  log=print, calibration_from: str | None = None, backend: str | None = None,
                  test: bool = True) -> dict:
    """The report for `ckpt`; with `fit`, its calibration is chosen first and written into it. With
    `calibration_from`, the network is scored under that checkpoint's calibration (nothing written).
    With the int8 `backend`, `fit` chooses only what is the int8 backend's own: its artifact threshold;
    with `fit="bars"`, only the band's two bars (a student keeps the rest of its teacher's calibration).
    Without `test`, a development read: validation and ood only, so that candidates are compared
    without reading the test split, which is read once per shipped model."""
    started = time.time()
    predictor = Predictor.load(ckpt, backend=backend)
    if calibration_from:
        predictor.calibration = checkpoint.calibration(calibration_from)
    splits = load_splits(cfg)
    cache = RunCache(Path(ckpt), cfg.corpus, int8=backend == "int8")
    validation, more_human = per_cell_sample(splits["validation"], per_cell, cfg.seed)
    sets = {"ood": list(splits["ood"]), "validation": validation}
    try:
        sets["apertium"] = apertium_sample(splits, per_cell, cfg.seed)
    except ApertiumMissing as e:
        log(f"the apertium set is left out: {e}")
    runs = {name: cache.get(predictor, name, rows) for name, rows in sets.items()}
    if fit:
        human_runs = cache.get(predictor, "validation, human-written", more_human)
        validation_runs, validation_rows = runs["validation"] + human_runs, sets["validation"] + more_human
        if fit == "bars":
            predictor.calibration = fit_bars(predictor, predictor.calibration, validation_runs + runs["ood"],
                                             validation_rows + sets["ood"])
            checkpoint.write_calibration(ckpt, predictor.calibration, {
                "stage": "calibration", "by": "training.yardstick --fit-bars", "chose": "machine_bar, original_bar"})
        elif backend == "int8":
            artifact_threshold = fit_artifact_threshold(validation_runs, validation_rows)
            predictor.calibration = predictor.calibration.replace(artifact_threshold=artifact_threshold,
                                                                  int8_artifact_threshold=artifact_threshold)
            checkpoint.write_calibration(
                ckpt, checkpoint.calibration(ckpt).replace(int8_artifact_threshold=artifact_threshold),
                {"stage": "calibration", "by": "training.yardstick --fit --backend int8",
                 "chose": "int8_artifact_threshold", "int8": INT8_LAYERS})
        else:
            predictor.calibration = fit_calibration(predictor, validation_runs + runs["ood"],
                                                    validation_rows + sets["ood"], log)
            # below this length the output warns: the shortest cut of validation text read nearly as
            # well as whole documents
            predictor.calibration = predictor.calibration.replace(
                min_words=choose_min_words(accuracy_by_length(predictor, sets["validation"], 100, cfg.seed)),
                artifact_threshold=fit_artifact_threshold(validation_runs, validation_rows))
            checkpoint.write_calibration(ckpt, predictor.calibration, {
                "stage": "calibration", "by": "training.yardstick --fit", "fitted_on": {
                    "validation": f"at most {per_cell} documents per cell", "ood": list(cfg.ood_sources)}})
    if test:
        sets["test"] = per_cell_sample(splits["test"], per_cell, cfg.seed)[0]
        runs["test"] = cache.get(predictor, "test", sets["test"])
    calibration = predictor.calibration
    bars = (calibration.machine_bar, calibration.original_bar)
    report = {"checkpoint": str(ckpt), "fitted": fit, "per_cell": per_cell, "calibration": calibration.to_dict(),
              "backend": backend or "onnx"}
    if calibration_from:
        report["calibration_from"] = str(calibration_from)
    for name, rows in sets.items():
        report[name] = summary(rows, probabilities(predictor, runs[name]), bars)
        if calibration.ngram_weight:
            alone = probabilities(predictor, runs[name], calibration.replace(ngram_weight=0.0))
            report[name]["transformer_alone"] = cell_balanced(cell_recall(rows, alone.argmax(1)))
        log(f"{name}: cell-balanced recall {report[name]['cell_balanced']['recall']}")
    if "apertium" in sets:
        report["apertium"].update(apertium_figures(report["apertium"]["cells"], cfg.ood_sources))
    report["mixed"] = {name: mixed_sentences(predictor, splits[name], mixed_docs, cfg.seed)
                       for name in ("ood", "test") if name in sets}
    report["seeds"] = seed_verdicts(predictor)
    if test:
        report["artifacts"] = artifact_figures(predictor, load_spans(cfg.corpus), sets["test"], runs["test"], cfg)
    report["seconds"] = round(time.time() - started)
    return report


def main(argv=None) -> dict:
    parser = command_parser(__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="choose the calibration and write it into the checkpoint")
    parser.add_argument("--fit-bars", action="store_true",
                        help="choose only the two bars of the uncertain band (a student's; the rest stays)")
    parser.add_argument("--per-cell", type=int, default=25)
    parser.add_argument("--out", default=None, help="folder for yardstick.json/.md (default: the checkpoint)")
    parser.add_argument("--calibration-from", default=None, metavar="CHECKPOINT",
                        help="score the network under this checkpoint's calibration instead of its own")
    parser.add_argument("--backend", choices=("onnx", "torch", "int8"), default=None,
                        help="what runs the network (model.Predictor.load); with int8, --fit chooses only its "
                             "artifact threshold")
    parser.add_argument("--no-test", dest="test", action="store_false",
                        help="a development read: validation and ood only, the test split left unread")
    args = parser.parse_args(argv)
    if (args.fit or args.fit_bars) and args.calibration_from:
        parser.error("--fit chooses a calibration; --calibration-from borrows one: not both")
    if args.fit_bars and (args.fit or args.backend == "int8"):
        parser.error("--fit-bars chooses the bars alone: not with --fit or the int8 backend")
    out = Path(args.out or args.checkpoint)
    report = run_yardstick(args.checkpoint, TrainConfig.from_yaml(args.config, args.overrides),
                           "bars" if args.fit_bars else args.fit, args.per_cell,
                           calibration_from=args.calibration_from, backend=args.backend, test=args.test)
    out.mkdir(parents=True, exist_ok=True)
    (out / "yardstick.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "yardstick.md").write_text(yardstick_markdown(report))
    print(yardstick_markdown(report))
    return report


if __name__ == "__main__":
    main()
