"""Measure the shipped model: throughput, cold start of `classify`, peak memory.

    python scripts/benchmark.py [--docs 48] [--out docs/benchmarks.md]

Documents are ~500 words, assembled from the project's own example text. Batch size is
documents per `predict` call (sentences and artifacts on, as `classify` prints them).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "harbour-vote.txt"


def documents(n: int, words: int = 500, seed: int = 0) -> list[str]:
    from model.text import split_sentences

    text = EXAMPLE.read_text(encoding="utf-8")
    sentences = [text[s:e] for s, e in split_sentences(text)]
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        picked = []
        while sum(len(s.split()) for s in picked) < words:
            picked.append(rng.choice(sentences))
        docs.append(" ".join(picked))
    return docs


def throughput(predictor, docs, batch_size: int) -> dict:
    predictor.predict(docs[: max(batch_size, 2)], batch_size=32)  # warm-up
    start = time.perf_counter()
    n_sentences = 0
    for i in range(0, len(docs), batch_size):
        for p in predictor.predict(docs[i : i + batch_size], batch_size=32):
            n_sentences += len(p.sentences)
    seconds = time.perf_counter() - start
    return {"batch_size": batch_size, "docs_per_s": len(docs) / seconds, "sentences_per_s": n_sentences / seconds}


def cold_start(runs: int = 3) -> dict:
    classify = shutil.which("classify") or str(Path(sys.executable).parent / "classify")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([classify, str(EXAMPLE)], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds_median": statistics.median(times), "seconds_all": times, "peak_rss_mb": peak_kb / 1024}


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=48)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    import torch

    from model import Predictor

    results = {"machine": machine(), "documents": args.docs, "words_per_doc": 500, "cold_start": cold_start()}
    docs = documents(args.docs)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        predictor = Predictor.load(device=device)
        results[device] = [throughput(predictor, docs, bs) for bs in (1, 8, 32)]
        del predictor
    results["peak_rss_mb_benchmark_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if torch.cuda.is_available():
        results["gpu"] = torch.cuda.get_device_name()

    lines = ["# Benchmarks", "", f"Machine: {results['machine']}" + (f"; GPU {results['gpu']}" if "gpu" in results else ""),
             f"Command: `python scripts/benchmark.py --docs {args.docs}` ({args.docs} documents of ~500 words, "
             "sentence labels and artifacts on).", "",
             "| device | batch size (docs per call) | documents/s | sentences/s |", "|---|---|---|---|"]
    for device in devices:
        lines += [f"| {device} | {r['batch_size']} | {r['docs_per_s']:.2f} | {r['sentences_per_s']:.1f} |"
                  for r in results[device]]
    c = results["cold_start"]
    lines += ["", f"Cold start of `classify examples/harbour-vote.txt` (process start to output, median of 3): "
              f"{c['seconds_median']:.2f} s; its peak memory (max RSS): {c['peak_rss_mb']:.0f} MB.",
              f"Peak memory of the benchmark process (model loaded, batch 32): "
              f"{results['peak_rss_mb_benchmark_process']:.0f} MB.", ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
