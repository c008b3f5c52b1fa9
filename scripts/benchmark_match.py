"""Speed of source matching: articles indexed per second, and one match against 10,000 articles.

    python scripts/benchmark_match.py [--index 200] [--articles 10000] [--queries 20]

Indexing: `--index` originals of the corpus embedded (whole and by paragraph) into a fresh local
index on disk, end to end through `Matcher.add`. Matching: a local index on disk of `--articles`
articles, their vectors reused from `training.match_eval`'s cache (topped up with random unit
vectors if the cache holds fewer: a search costs the same on any vectors) beside their texts
(corpus texts for the random ones: the re-scoring reads the candidates' words), reopened, then
`--queries` machine-made corpus texts matched one at a time, with sentence alignment, without and
with telltale's label. Times are wall clock on this machine.
"""
from __future__ import annotations

import argparse
import json
import pickle
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from model.match import Embedder, Matcher
from training.config import TrainConfig
from training.corpus import load_splits
from training.match_eval import cache_path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, default=200)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks-match.json"))
    args = parser.parse_args(argv)
    splits = load_splits(TrainConfig.from_yaml(ROOT / "configs" / "recipe.yaml", []))
    test = list(splits["test"])
    originals = [d for d in test if d["label"] == "original"][: args.index]
    queries = [d for d in test if d["label"] != "original" and len(d["text"].split()) >= 350][: args.queries]
    embedder = Embedder()
    embedder.embed(["warm-up"])
    work = Path(tempfile.mkdtemp(prefix="telltale-match-bench-"))
    results = {}

    start = time.perf_counter()
    Matcher.open(work / "small", embedder=embedder).add([d["text"] for d in originals], [d["id"] for d in originals])
    results["index_articles_per_s"] = len(originals) / (time.perf_counter() - start)
    words = sum(len(d["text"].split()) for d in originals) / len(originals)
    print(f"indexing: {results['index_articles_per_s']:.2f} articles/s ({len(originals)} articles of {words:.0f} words)", flush=True)

    cached = pickle.loads(cache_path("vectors.pkl").read_bytes())
    text_of = {d["id"]: d["text"] for split in splits.values() for d in split}
    filler = [d["text"] for d in splits["train"] if d["label"] == "original"]
    rng = np.random.default_rng(0)
    ids, texts, articles, spans, per_text = [], [], [], [], []
    for i, (doc_id, (a, s, p)) in enumerate(list(cached.items())[: args.articles]):
        ids.append(doc_id), texts.append(text_of.get(doc_id, "")), articles.append(a), spans.append(s), per_text.append(p)
    while len(ids) < args.articles:
        v = rng.standard_normal((8, 384)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        ids.append(f"random-{len(ids)}"), texts.append(filler[len(ids) % len(filler)])
        articles.append(v.mean(0) / np.linalg.norm(v.mean(0)))
        spans.append([(0, 0)] * 8), per_text.append(v)
    big = Matcher.open(work / "big", embedder=embedder)
    for i in range(0, len(ids), 1000):
        sl = slice(i, i + 1000)
        big.add(texts[sl], ids[sl], vectors=(np.stack(articles[sl]), spans[sl], per_text[sl]))
    big.add([d["text"] for d in originals], [d["id"] for d in originals])  # real texts for the alignment
    big.client.close()
    start = time.perf_counter()
    big = Matcher.open(work / "big", embedder=embedder)
    results["open_s"] = time.perf_counter() - start
    results["indexed"] = big.count()
    from model.predictor import Predictor

    predictor = Predictor.load()
    for name, pred in (("match_s", None), ("match_with_label_s", predictor)):
        times = []
        for d in queries:
            start = time.perf_counter()
            big.match([d["text"]], predictor=pred)
            times.append(time.perf_counter() - start)
        results[name] = {"median": statistics.median(times), "max": max(times)}
        print(f"{name}: median {results[name]['median']:.2f} s, max {results[name]['max']:.2f} s", flush=True)
    results["query_words"] = sum(len(d["text"].split()) for d in queries) / len(queries)
    print(f"index of {results['indexed']:,} articles opened in {results['open_s']:.1f} s; queries of "
          f"{results['query_words']:.0f} words on average")
    shutil.rmtree(work)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
