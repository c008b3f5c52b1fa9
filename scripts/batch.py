"""`telltale-batch`: classify many documents, one output record per input.

    telltale-batch INPUT OUT.jsonl [--text-field text] [--id-field id] [--resume]

INPUT is a directory (every .txt below it), a glob ("news/*.txt"), or a .jsonl / .csv /
.parquet file. OUT is JSON Lines, CSV or Parquet by its extension. A record that fails
carries an `error` field and the run goes on; `--resume` skips ids already in OUT.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from model.inputs import DEFAULT_MAX_BYTES, InputError, check_text, decode

TOP_ARTIFACTS = 5
CSV_FIELDS = ["id", "label", "p_original", "p_machine_translated", "p_ai_rewritten", "n_original",
              "n_machine_translated", "n_ai_rewritten", "words", "flags", "top_artifacts", "error"]


def read_inputs(source: str, text_field: str, id_field: str, max_bytes: int) -> Iterator[tuple[str, str | None, str | None]]:
    """Yield (id, text, error) for every input record; exactly one per record."""
    path = Path(source)
    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".jsonl", ".csv", ".parquet"):
        yield from _read_table(path, suffix, text_field, id_field)
        return
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not files and not any(c in source for c in "*?["):
            raise InputError(f"{source}: no such file or directory")
    for f in files:
        try:
            if f.stat().st_size > max_bytes:
                raise InputError(f"too large ({f.stat().st_size:,} bytes; the limit is {max_bytes:,})")
            yield str(f), decode(f.read_bytes(), max_bytes), None
        except (InputError, OSError) as e:
            yield str(f), None, str(e)


def _read_table(path: Path, suffix: str, text_field: str, id_field: str):
    if suffix == ".jsonl":
        with path.open(encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise ValueError("not a JSON object")
                except ValueError as e:
                    yield f"line-{n}", None, f"line {n}: invalid JSON ({e})"
                    continue
                yield _record(row, n, text_field, id_field)
    elif suffix == ".csv":
        csv.field_size_limit(sys.maxsize)
        with path.open(encoding="utf-8", errors="replace", newline="") as f:
            for n, row in enumerate(csv.DictReader(f), 1):
                yield _record(row, n, text_field, id_field)
    else:
        import pyarrow.parquet as pq

        table = pq.ParquetFile(path)
        n = 0
        for batch in table.iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                n += 1
                yield _record(row, n, text_field, id_field)


def _record(row: dict, n: int, text_field: str, id_field: str):
    rid = str(row.get(id_field, n)) if row.get(id_field) is not None else str(n)
    text = row.get(text_field)
    if not isinstance(text, str):
        return rid, None, f"no text in field {text_field!r}"
    try:
        return rid, check_text(text), None
    except InputError as e:
        return rid, None, str(e)


def output_record(rid: str, prediction=None, error: str | None = None) -> dict:
    if prediction is None:
        return {"id": rid, "error": error}
    top = sorted(prediction.artifacts, key=lambda a: -a.score)[:TOP_ARTIFACTS]
    return {"id": rid, "label": prediction.label, "probabilities": prediction.probabilities,
            "sentence_counts": prediction.sentence_counts(), "words": prediction.words,
            "flags": prediction.flags,
            "top_artifacts": [{"text": a.text, "start": a.start, "end": a.end, "score": a.score, "kind": a.kind}
                              for a in top]}


def flat_record(rec: dict) -> dict:
    """A record with one column per value, for CSV and Parquet."""
    probs, counts = rec.get("probabilities") or {}, rec.get("sentence_counts") or {}
    return {
        "id": rec["id"], "label": rec.get("label"),
        "p_original": probs.get("original"), "p_machine_translated": probs.get("machine-translated"),
        "p_ai_rewritten": probs.get("ai-rewritten"), "n_original": counts.get("original"),
        "n_machine_translated": counts.get("machine-translated"), "n_ai_rewritten": counts.get("ai-rewritten"),
        "words": rec.get("words"), "flags": ",".join(rec.get("flags") or []) or None,
        "top_artifacts": json.dumps(rec["top_artifacts"], ensure_ascii=False) if rec.get("top_artifacts") else None,
        "error": rec.get("error"),
    }


class Writer:
    """Appends records as they come. Parquet cannot be appended to, so its records go to a
    JSON Lines journal beside it and become the Parquet file when the run ends."""

    def __init__(self, out: Path):
        self.out, self.kind = out, out.suffix.lower()
        self.journal = out.with_name(out.name + ".partial.jsonl") if self.kind == ".parquet" else out

    def done_ids(self) -> set[str]:
        ids = set()
        if self.kind == ".parquet" and self.out.exists():
            import pyarrow.parquet as pq

            ids |= {str(x) for x in pq.read_table(self.out, columns=["id"]).column("id").to_pylist()}
        if self.journal.exists():
            if self.kind == ".csv":
                with self.journal.open(encoding="utf-8", newline="") as f:
                    ids |= {row["id"] for row in csv.DictReader(f)}
            else:
                with self.journal.open(encoding="utf-8") as f:
                    for line in f:
                        try:
                            ids.add(str(json.loads(line)["id"]))
                        except (ValueError, KeyError):
                            pass  # a line cut short by a crash: that record is redone
        return ids

    def open(self, append: bool):
        new = not (append and self.journal.exists())
        if not new:  # a crash may have left half a line at the end: cut it, its record is redone
            data = self.journal.read_bytes()
            if data and not data.endswith(b"\n"):
                with self.journal.open("r+b") as f:
                    f.truncate(data.rfind(b"\n") + 1)
        self.file = self.journal.open("w" if new else "a", encoding="utf-8", newline="")
        if self.kind == ".csv":
            self.csv = csv.DictWriter(self.file, CSV_FIELDS)
            if new:
                self.csv.writeheader()

    def write(self, rec: dict):
        if self.kind == ".csv":
            self.csv.writerow(flat_record(rec))
        else:
            self.file.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()
        if self.kind == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = []
            if self.out.exists():
                rows += pq.read_table(self.out).to_pylist()
            with self.journal.open(encoding="utf-8") as f:
                rows += [flat_record(json.loads(line)) for line in f if line.strip()]
            pq.write_table(pa.Table.from_pylist(rows), self.out)
            self.journal.unlink()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="telltale-batch", description=__doc__.splitlines()[0])
    p.add_argument("input", help="directory of .txt files, a glob, or a .jsonl/.csv/.parquet file")
    p.add_argument("output", help="OUT.jsonl, OUT.csv or OUT.parquet")
    p.add_argument("--text-field", default="text")
    p.add_argument("--id-field", default="id")
    p.add_argument("--resume", action="store_true", help="skip ids already in OUTPUT")
    p.add_argument("--model", default=None, help="checkpoint directory (default: the shipped model)")
    p.add_argument("--device", default=None)
    p.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    p.add_argument("--chunk", type=int, default=64, help="documents per prediction call")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    args = p.parse_args(argv)

    out = Path(args.output)
    if out.suffix.lower() not in (".jsonl", ".csv", ".parquet"):
        print("telltale-batch: error: OUTPUT must end in .jsonl, .csv or .parquet", file=sys.stderr)
        return 2
    source = Path(args.input)
    if source.is_file() and source.suffix.lower() not in (".jsonl", ".csv", ".parquet", ".txt"):
        print(f"telltale-batch: error: {args.input}: expected a directory, a glob, or .jsonl/.csv/.parquet",
              file=sys.stderr)
        return 2
    writer = Writer(out)
    done = writer.done_ids() if args.resume else set()

    from model.predictor import Predictor

    try:
        predictor = Predictor.load(args.model, args.device)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"telltale-batch: cannot load the model: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1

    writer.open(append=args.resume)
    counts = {"written": 0, "skipped": 0, "errors": 0}
    progress = tqdm(unit="doc", desc="classifying", dynamic_ncols=True)
    chunk: list[tuple[str, str | None, str | None]] = []  # (id, text, input error), in input order

    def flush():
        good = [i for i, (_, _, error) in enumerate(chunk) if not error]
        results = {}
        try:
            predictions = predictor.predict([chunk[i][1] for i in good], batch_size=args.batch_size)
            results = {i: output_record(chunk[i][0], pr) for i, pr in zip(good, predictions)}
        except Exception:  # one bad document must not lose its neighbours: redo them one by one
            for i in good:
                rid, text, _ = chunk[i]
                try:
                    results[i] = output_record(rid, predictor.predict_one(text, batch_size=args.batch_size))
                except Exception as e:
                    results[i] = output_record(rid, error=f"prediction failed: {type(e).__name__}: {e}")
        for i, (rid, _, error) in enumerate(chunk):
            rec = results[i] if i in results else output_record(rid, error=error)
            writer.write(rec)
            counts["written"] += 1
            counts["errors"] += "error" in rec
        progress.update(len(chunk))
        chunk.clear()

    try:
        for rid, text, error in read_inputs(args.input, args.text_field, args.id_field, args.max_bytes):
            if rid in done:
                counts["skipped"] += 1
                continue
            chunk.append((rid, text, error))
            if len(chunk) >= args.chunk:
                flush()
        if chunk:
            flush()
    except InputError as e:
        print(f"telltale-batch: error: {e}", file=sys.stderr)
        return 2
    finally:
        progress.close()
        writer.close()
    print(f"telltale-batch: {counts['written']} written ({counts['errors']} with errors), "
          f"{counts['skipped']} already done -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
