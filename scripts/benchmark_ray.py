"""Documents/s of `telltale-ray` with 1 and 2 actors, beside plain `telltale-batch`, on this machine.

    python scripts/benchmark_ray.py [--docs 128] [--files 8]

Each command runs end to end in its own process on a JSONL input of ~500-word documents (split
over --files files, as a crawl's shards are), twice: on --docs documents and on an eighth of them.
The difference between the two runs gives the steady documents/s, without the start-up (Ray,
model loading) that both pay; the start-up is reported beside it.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def write_documents(folder: Path, n: int, files: int):
    """n documents of ~500 words from the example's sentences, over `files` JSONL files."""
    from model.text import split_sentences

    text = (ROOT / "examples" / "harbour-vote.txt").read_text(encoding="utf-8")
    sentences = [text[s:e] for s, e in split_sentences(text)]
    rng = random.Random(0)
    folder.mkdir(parents=True)
    handles = [(folder / f"shard-{k:02d}.jsonl").open("w", encoding="utf-8") for k in range(files)]
    for i in range(n):
        picked = []
        while sum(len(s.split()) for s in picked) < 500:
            picked.append(rng.choice(sentences))
        handles[i % files].write(json.dumps({"id": f"doc-{i:05d}", "text": " ".join(picked)}) + "\n")
    for h in handles:
        h.close()
    with (folder.parent / f"{folder.name}.jsonl").open("w", encoding="utf-8") as f:  # the same, as one file
        f.writelines(line for k in range(files) for line in (folder / f"shard-{k:02d}.jsonl").open(encoding="utf-8"))


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=128)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks-ray.json"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="telltale-ray-bench-"))
    small = max(args.docs // 8, args.files)
    for n in (small, args.docs):
        write_documents(work / f"in-{n}", n, args.files)
    setups = {
        "telltale-batch (torch, 2 threads)": lambda n, out: [str(BIN / "telltale-batch"), str(work / f"in-{n}.jsonl"), str(out) + ".parquet"],
        "telltale-ray, 1 actor x 1 CPU": lambda n, out: ray(work, n, out, 1, 1),
        "telltale-ray, 1 actor x 2 CPUs": lambda n, out: ray(work, n, out, 1, 2),
        "telltale-ray, 2 actors x 1 CPU": lambda n, out: ray(work, n, out, 2, 1),
    }
    results = {}
    for name, command in setups.items():
        t = {n: seconds(command(n, work / f"out-{len(results)}-{n}")) for n in (small, args.docs)}
        steady = (args.docs - small) / (t[args.docs] - t[small])
        results[name] = {"seconds": t, "steady_docs_per_s": steady, "startup_s": t[small] - small / steady,
                         "end_to_end_docs_per_s": args.docs / t[args.docs]}
        print(f"{name}: {steady:.2f} documents/s steady, {results[name]['startup_s']:.1f} s start-up", flush=True)
    shutil.rmtree(work)
    lines = [f"| command ({args.docs} documents of ~500 words in {args.files} JSONL files) | documents/s, steady "
             "| start-up, s | documents/s, end to end |", "|---|---|---|---|"]
    lines += [f"| {name} | {r['steady_docs_per_s']:.2f} | {r['startup_s']:.1f} | {r['end_to_end_docs_per_s']:.2f} |"
              for name, r in results.items()]
    print("\n".join(lines))
    Path(args.out).write_text(json.dumps({"docs": args.docs, "files": args.files, "results": results}, indent=2) + "\n")


def ray(work: Path, n: int, out: Path, actors: int, cpus_per_actor: int) -> list[str]:
    return [str(BIN / "telltale-ray"), str(work / f"in-{n}"), str(out), "--cpus", "2", "--actors", str(actors),
            "--cpus-per-actor", str(cpus_per_actor), "--docs-per-call", "16"]


if __name__ == "__main__":
    main()
