"""Measure a telltale checkout: throughput, cold start of `classify`, peak memory; beside another.

    python scripts/benchmark.py [--docs 32] [--baseline ../telltale-before] [--model model/weights-fast ...] [--out docs/benchmarks.md]

This checkout is measured with each backend (onnx, torch, int8); `--baseline` is another checkout of
the project (its own code and model, e.g. `git worktree add ../telltale-before HEAD~1`), measured
the same way in the same run, so that they are compared on one machine under one load; `--model`
(repeatable) is another checkpoint (a distilled student), measured in this checkout beside the
shipped one (and in the baseline, when its checkout has the same path). Every measurement runs in a fresh
process, in the checkout's own folder, through the public API only (`Predictor.load()`,
`predict`), so any two versions compare.
Documents are ~500 words, assembled from the project's own example text; batch size is documents
per `predict` call, with sentence labels and artifacts on, as `classify` prints them, and the
windows per forward pass each checkout's default for its backend (64 on a GPU).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/harbour-vote.txt"
BACKENDS = ("onnx", "torch", "int8")  # model.Predictor.load's

# Run in the measured checkout: `documents` is inlined so that an older checkout needs nothing new.
WORKER = r"""
import json, random, resource, sys, time
from model import Predictor
from model.text import split_sentences
n, batch_sizes = int(sys.argv[1]), [int(b) for b in sys.argv[2].split(",")]
options = {k: v for k, v in zip(("device", "backend", "path"), sys.argv[3:6]) if v}  # an older checkout takes none
per_pass = {"batch_size": int(sys.argv[6])} if len(sys.argv) > 6 and sys.argv[6] else {}  # else the checkout's default
text = open("examples/harbour-vote.txt", encoding="utf-8").read()
sentences = [text[s:e] for s, e in split_sentences(text)]
rng, docs = random.Random(0), []
for _ in range(n):
    picked = []
    while sum(len(s.split()) for s in picked) < 500:
        picked.append(rng.choice(sentences))
    docs.append(" ".join(picked))
predictor = Predictor.load(**options)
predictor.predict(docs[:2], **per_pass)  # warm-up
out = []
for bs in batch_sizes:
    start, n_sentences = time.perf_counter(), 0
    for i in range(0, len(docs), bs):
        n_sentences += sum(len(p.sentences) for p in predictor.predict(docs[i : i + bs], **per_pass))
    seconds = time.perf_counter() - start
    out.append({"batch_size": bs, "docs_per_s": len(docs) / seconds, "sentences_per_s": n_sentences / seconds})
print(json.dumps({"throughput": out, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(checkout: Path, docs: int, batch_sizes: str, device: str = "", backend: str = "", model: str = "",
            windows_per_pass: int | None = None) -> dict:
    done = subprocess.run([sys.executable, "-c", WORKER, str(docs), batch_sizes, device, backend, model,
                           str(windows_per_pass or "")], cwd=checkout,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(checkout)})
    if done.returncode:
        raise SystemExit(f"benchmark worker failed in {checkout}:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_start(checkout: Path, backend: str = "", model: str = "", runs: int = 3) -> dict:
    """`classify` on one file, process start to output: the median of `runs` after one untimed run
    (which builds any cache the checkout keeps), and the peak memory of the slowest."""
    times, peaks = [], []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "model.cli", EXAMPLE,
                               *(["--backend", backend] if backend else []), *(["--model", model] if model else [])],
                              cwd=checkout,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(checkout)})
        if i:
            times.append(time.perf_counter() - start)
            peaks.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
    return {"seconds_median": statistics.median(times), "seconds_all": times, "peak_rss_mb": max(peaks)}


def model_mb(model_dir: Path) -> float:
    return sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file()) / 2**20


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores"


def label(checkout: Path) -> str:
    done = subprocess.run(["git", "log", "-1", "--format=%h"], cwd=checkout, capture_output=True, text=True)
    return done.stdout.strip() or str(checkout)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=32)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout, measured beside this one")
    parser.add_argument("--model", type=Path, action="append", default=[],
                        help="another checkpoint, measured in this checkout too (repeatable)")
    parser.add_argument("--gpu", action="store_true", help="also batch 256 on CUDA (this checkout)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    # (column, checkout, backend, checkpoint): this checkout with each backend, with the other
    # checkpoint, then the baseline as it runs
    runs = [(f"this, {backend}", ROOT, backend, "") for backend in BACKENDS]
    for model in args.model:
        runs += [(f"{model.name}, {backend}", ROOT, backend, str(model.resolve())) for backend in BACKENDS]
    if args.baseline:
        runs.append(("baseline", args.baseline.resolve(), "", ""))
        for model in args.model:  # the same checkpoint path in the baseline's checkout: its own copy of it
            theirs = args.baseline.resolve() / model.resolve().relative_to(ROOT)
            if theirs.exists():
                runs.append((f"baseline, {model.name}", args.baseline.resolve(), "", str(theirs)))
    results = {"machine": machine(), "documents": args.docs, "words_per_doc": 500}
    for name, checkout, backend, model in runs:
        results[name] = {"commit": label(checkout), "model_mb": model_mb(Path(model or checkout / "model" / "weights")),
                         "cold_start": cold_start(checkout, backend, model),
                         **measure(checkout, args.docs, "1,8,32", "", backend, model)}
    if args.gpu:
        results["gpu"] = measure(ROOT, max(args.docs, 512), "256", "cuda", "torch", windows_per_pass=64)

    names = [name for name, *_ in runs]
    lines = ["# Benchmarks", "", f"Machine: {results['machine']}. Command: `python scripts/benchmark.py --docs {args.docs}"
             + "".join(f" --model {model}" for model in args.model) + (" --baseline CHECKOUT`" if args.baseline else "`") + f" ({args.docs} documents of ~500 words, sentence "
             "labels and artifacts on; every figure from one run, each in a fresh process).", "",
             "| measure | " + " | ".join(f"{n} ({results[n]['commit']})" for n in names) + " |",
             "|---|" + "---|" * len(names)]

    def row(title, values, fmt):
        lines.append(f"| {title} | " + " | ".join(format(v, fmt) for v in values) + " |")

    for i, bs in enumerate((1, 8, 32)):
        row(f"documents/s, batch {bs}", [results[n]["throughput"][i]["docs_per_s"] for n in names], ".2f")
    row("cold start of `classify` on one file, s", [results[n]["cold_start"]["seconds_median"] for n in names], ".2f")
    row("peak memory of that `classify`, MB", [results[n]["cold_start"]["peak_rss_mb"] for n in names], ".0f")
    row("peak memory of the benchmark process, MB", [results[n]["peak_rss_mb"] for n in names], ".0f")
    row("model directory, MB", [results[n]["model_mb"] for n in names], ".1f")
    if "gpu" in results:
        lines += ["", f"GPU, batch 256, torch: {results['gpu']['throughput'][0]['docs_per_s']:.1f} documents/s."]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
