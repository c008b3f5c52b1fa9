"""Reports as people read them: the evaluation and yardstick reports in markdown, and the plots."""
from __future__ import annotations

from pathlib import Path

from model.labels import LABELS


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def markdown_report(r: dict) -> str:
    d, b = r["documents"], r["baseline"]["documents"]
    t = r.get("training", {})
    lines = [
        f"# Evaluation report: `{r['checkpoint']}`", "",
        f"Test split: {d['n']} documents (group split, seed in the training config). "
        f"Training: {t.get('steps', '?')} steps in {t.get('seconds', '?')} s on {t.get('device', '?')}. "
        f"Evaluation took {r['evaluation_seconds']} s.", "",
        "## Headline (test split)", "",
        "| metric | telltale | baseline (char n-gram TF-IDF + LR) |", "|---|---|---|",
        f"| document accuracy | {_pct(d['accuracy'])} | {_pct(b['accuracy'])} |",
        f"| document macro-F1 | {d['macro_f1']:.3f} | {b['macro_f1']:.3f} |",
    ]
    if r["ngram_weight"]:  # without n-grams it would repeat the row above
        alone = r["documents_transformer_alone"]
        lines.append(f"| document accuracy / macro-F1, transformer alone (without its n-gram model, weight "
                     f"{r['ngram_weight']}) | {_pct(alone['accuracy'])} / {alone['macro_f1']:.3f} | |")
    lines += [
        f"| sentence macro-F1 (in context) | {r['sentences_in_context']['macro_f1']:.3f} | |",
        f"| sentence macro-F1 (sentence alone) | {r['sentences_alone']['macro_f1']:.3f} | |",
    ]
    for kind in ("all", "human", "human-translation"):
        lines.append(f"| false-positive rate on human-written docs ({kind}) | "
                     f"{_pct(r['human_false_positive_rate'][kind]['fpr'])} (n={r['human_false_positive_rate'][kind]['n']}) | "
                     f"{_pct(r['baseline']['human_false_positive_rate'][kind]['fpr'])} |")
    c = r["calibration"]
    u = r["uncertain_band"]
    lines += [
        f"| expected calibration error, before / after temperature {c['temperature']}"
        + (f" and label prior {c['label_prior']}" if "label_prior" in c else "") + " | "
        f"{c['ece_before']:.3f} / {c['ece_after']:.3f} | |", "",
        "## Per class (documents)", "", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|",
    ]
    lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
              for k, v in d["per_class"].items()]
    lines += ["", "Confusion matrix (rows gold, columns predicted; " + ", ".join(LABELS) + "):", ""]
    lines += ["    " + " ".join(f"{x:6d}" for x in row) for row in d["confusion"]]
    lines += ["", f"## The `uncertain` band (thresholds chosen on validation: {u['threshold']} for a machine "
              f"label, {u['original_threshold']} for original)", "",
              f"Coverage (documents with a definite verdict): {_pct(u['coverage'])}; accuracy on them: "
              f"{_pct(u['accuracy_on_definite'])}; human-written documents given a machine label: "
              f"{_pct(u['human_false_positive_rate_on_all']['all']['fpr'])} "
              f"(human {_pct(u['human_false_positive_rate_on_all']['human']['fpr'])}, "
              f"human-translation {_pct(u['human_false_positive_rate_on_all']['human-translation']['fpr'])}); "
              f"machine-made documents called original: {_pct(u['machine_made_called_original'])}.", "",
              "Definite verdicts by label (precision / recall / n gold): " + "; ".join(
                  f"{k} {v['precision']:.3f} / {v['recall']:.3f} / {v['support']}"
                  for k, v in u["definite_documents"].get("per_class", {}).items()) + ".", ""]
    lines += ["## Recall by label / kind / source", "", "| stratum | n | telltale | baseline |", "|---|---|---|---|"]
    for k, v in r["recall_by_source"].items():
        lines.append(f"| {k} | {v['n']} | {_pct(v['recall'])} | {_pct(r['baseline']['recall_by_source'][k]['recall'])} |")
    lines += ["", "## Recall by MT system / LLM", "", "| label / system | n | recall |", "|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {_pct(v['recall'])} |" for k, v in r["recall_by_system"].items()]
    lines += ["", "## Artifacts (character level)", "", "| held-out gold | precision | recall | F1 |", "|---|---|---|---|"]
    for key, name in (("artifacts_mqm", "MQM error spans (WMT zh-en, test groups)"),
                      ("artifacts_roundtrip", "round-trip changed words (test docs)")):
        if key in r:
            a = r[key]
            lines.append(f"| {name} | {a['precision']:.3f} | {a['recall']:.3f} | {a['f1']:.3f} |")
    lines += ["", "## Accuracy by length (test, `uncertain` off)", "", "| length | n | median words | accuracy | macro-F1 | human FPR |",
              "|---|---|---|---|---|---|"]
    for k, v in r["accuracy_by_length"].items():
        lines.append(f"| {k} | {v['n']} | {v['median_words']} | {_pct(v['accuracy'])} | {v['macro_f1']:.3f} | {_pct(v['human_fpr'])} |")
    p = r["perturbation_accuracy"]
    lines += ["", f"Minimum length for a verdict (from validation): {r['validation_choices']['min_words']} words.", "",
              f"## Perturbed test documents ({p['n']} sampled)", ""]
    flagged, drops, human = (r["perturbation_flagged_no_punctuation"], r["perturbation_drop"],
                             r["perturbation_human_flagged"])
    lines += ["| input | accuracy | drop, points (95% interval) | warned `no-punctuation` | human-written given a "
              "machine label |", "|---|---|---|---|---|"]
    for k, v in p.items():
        if k in ("n", "largest_drop"):
            continue
        d = drops.get(k)  # the clean row has none
        drop = f"{100 * d['drop']:.1f} ({100 * d['ci95'][0]:.1f} to {100 * d['ci95'][1]:.1f})" if d else ""
        lines.append(f"| {k} | {_pct(v)} | {drop} | {_pct(flagged[k])} | {_pct(human[k])} |")
    lines += ["", f"Largest drop: {100 * p['largest_drop']:.1f} points.", ""]
    return "\n".join(lines) + "\n"


def plot_reliability(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = r["calibration"]["reliability"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-",
            label=f"after (ECE {r['calibration']['ece_after']:.3f})")
    ax.set_xlabel("confidence"), ax.set_ylabel("accuracy"), ax.set_title("Reliability, test documents")
    ax.legend()
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)


def plot_length(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = r["accuracy_by_length"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(list(rows), [v["accuracy"] for v in rows.values()], "o-", label="accuracy")
    ax.plot(list(rows), [v["macro_f1"] for v in rows.values()], "s--", label="macro-F1")
    ax.set_ylim(0, 1), ax.set_ylabel("test"), ax.set_title("Accuracy against text length")
    ax.tick_params(axis="x", labelrotation=20), ax.legend(), ax.grid(alpha=0.3)
    fig.tight_layout(), fig.savefig(path, dpi=110), plt.close(fig)


def yardstick_markdown(r: dict) -> str:
    pct = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"
    c = r["calibration"]
    source = ("as shipped, its int8 artifact threshold fitted on validation" if r["fitted"] and r.get("backend") == "int8"
              else "as shipped, its band's two bars fitted on validation + ood" if r["fitted"] == "bars"
              else "fitted on validation + ood" if r["fitted"] else
              f"borrowed from `{r['calibration_from']}`" if r.get("calibration_from") else "as shipped")
    backend = f" (the {r['backend']} backend)" if r.get("backend", "onnx") not in ("onnx", "torch") else ""
    lines = [f"# Yardstick: `{r['checkpoint']}`{backend}", "",
             f"Calibration {source}: temperature "
             f"{c['temperature']}, n-gram weight {c['ngram_weight']}, label prior {c['label_prior']}, bars "
             f"{c['machine_bar']} (machine labels) / {c['original_bar']} (original). "
             + (f"Validation and test: at most {r['per_cell']} documents per cell. {r['seconds']} s." if "test" in r else
                f"Validation: at most {r['per_cell']} documents per cell. {r['seconds']} s. A development read: "
                "the test split was not read."), "",
             "| set | docs | cell-balanced recall (cells) | label-balanced | worst cell | macro-F1 | band: coverage | "
             "band: human-written given a machine label | band: macro-F1 |", "|---|---|---|---|---|---|---|---|---|"]
    for name in [n for n in ("ood", "validation", "test", "apertium") if n in r]:
        s, b = r[name], r[name]["band"]
        cb = s["cell_balanced"]
        lines.append(f"| {name} | {s['n']} | {pct(cb['recall'])} ({cb['cells']}) | {pct(cb.get('label_balanced'))} | "
                     f"{cb['worst_cell']}: "
                     f"{pct(cb['worst_recall'])} | {s['macro_f1']:.3f} | {pct(b['coverage'])} | "
                     f"{pct(b['human_flagged'])} | {b['macro_f1']:.3f} |")
    if "apertium" in r:
        a = r["apertium"]
        lines += ["", "`apertium`: rule-based round trips (training/roundtrips.py) of the English originals of validation and "
                  f"ood, band off: cell-balanced recall {pct(a['held_out_pivot']['recall'])} through the pivot no run "
                  f"trains on (Galician), {pct(a['ood_articles']['recall'])} on the ood articles (every pivot)."]
    lines += ["", "Seeds, as `classify` prints them: " + "; ".join(
        f"{s['seed']} {s['label']} ({s['probability']}){' ✓' if s['label'] == s['truth'] else ' ✗ (' + s['truth'] + ')'}"
        for s in r["seeds"]) + ".", ""]
    a = r.get("artifacts")
    lines += [] if a is None else ["Artifacts, words (test groups): " + "; ".join(
        f"{name}: precision {v['precision']:.3f}, recall {v['recall']:.3f}, F1 {v['f1']:.3f} (flag every word: "
        f"{v['every_word_f1']:.3f}; {v['words']} words)" for name, v in a.items() if isinstance(v, dict))
        + f"; human-written words flagged: {pct(a.get('human_words_flagged'))}.", ""]
    lines += ["Seed artifacts: " + "; ".join(f"{s['seed']}: " + (", ".join(f"{t} ({k})" for t, k in s["artifacts"]) or "none")
                                           for s in r["seeds"] if "artifacts" in s) + ".", ""]
    lines += ["Mixed documents (an original's opening, then a machine version), sentence labels: " + "; ".join(
        f"{k}: macro-F1 {v['macro_f1'] or 0:.3f}" + (f" (over {', '.join(v['labels'])})" if "labels" in v else "")
        + f", original sentences kept {pct(v['original_kept'])}, machine sentences "
        f"found {pct(v['machine_found'])} ({v['documents']} docs)" for k, v in r["mixed"].items()) + ".", ""]
    for name in [n for n in ("ood", "test", "apertium") if n in r]:
        lines += [f"## Recall per cell, {name} (band off)", "", "| cell | n | recall | human-written given a machine label |",
                  "|---|---|---|---|"]
        flagged = r[name]["human_flagged"]
        for cell, v in r[name]["cells"].items():
            lines.append(f"| {cell} | {v['n']} | {pct(v['recall'])} | "
                         f"{pct(flagged[cell]['share']) if cell in flagged else ''} |")
        lines.append("")
    return "\n".join(lines)
