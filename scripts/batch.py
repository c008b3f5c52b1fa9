"""`telltale-batch`: classify many documents, one output record per input.

    telltale-batch INPUT OUT.jsonl [--text-field text] [--id-field id] [--resume]

INPUT is a directory (every .txt below it), a glob ("news/*.txt"), or a .jsonl / .csv /
.parquet file. OUT is JSON Lines, CSV or Parquet by its extension. One record per input, in
input order; a record that fails carries an `error` field and the run goes on. Records go to
OUT.partial.jsonl as they come and become OUT when the run ends; `--resume` keeps the first N
records of that journal (or of a finished OUT) and classifies the rest.
"""
from __future__ import annotations

import argparse
import csv
import glob
import io
import itertools
import json
import os
import sys
from pathlib import Path
from typing import BinaryIO, Iterator

from tqdm import tqdm

from model.inputs import DEFAULT_MAX_BYTES, InputError, check_output_path, check_text, decode, positive_int

TOP_ARTIFACTS = 5
CSV_FIELDS = ["id", "label", "p_original", "p_machine_translated", "p_ai_rewritten", "n_original",
              "n_machine_translated", "n_ai_rewritten", "words", "flags", "top_artifacts", "error"]


def read_inputs(source: str, text_field: str, id_field: str, max_bytes: int,
                exclude=()) -> Iterator[tuple[str, str | None, str | None]]:
    """Yield (id, text, error) for every input record; exactly one per record. Files in `exclude`
    (the output, which a glob may match) are not inputs."""
    path = Path(source)
    suffix = path.suffix.lower()
    if path.is_file() and suffix in (".jsonl", ".csv", ".parquet"):
        with path.open("rb") as f:
            yield from read_table(f, suffix, text_field, id_field)
        return
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not files and not any(c in source for c in "*?["):
            raise InputError(f"{source}: no such file or directory")
    excluded = {Path(p).resolve() for p in exclude}
    files = [f for f in files if f.resolve() not in excluded]
    for f in files:
        try:
            if f.stat().st_size > max_bytes:
                raise InputError(f"too large ({f.stat().st_size:,} bytes; the limit is {max_bytes:,})")
            yield str(f), decode(f.read_bytes(), max_bytes), None
        except (InputError, OSError) as e:
            yield str(f), None, str(e)


def read_table(stream: BinaryIO, suffix: str, text_field: str, id_field: str, id_prefix: str = ""):
    """Yield (id, text, error) for every row of a .jsonl, .csv or .parquet stream. A row without an
    id gets its row number (after `id_prefix`)."""
    # Undecodable bytes are kept as surrogates, so that check_text turns them into that record's
    # error instead of silently replacing them or losing the rest of the file.
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = (row for batch in pq.ParquetFile(stream).iter_batches(batch_size=1024) for row in batch.to_pylist())
    else:
        text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
        if suffix == ".csv":
            csv.field_size_limit(sys.maxsize)
            rows = csv.DictReader(text)
        else:
            rows = _json_lines(text)
    for n, row in enumerate(rows, 1):
        if row is None:
            continue
        if isinstance(row, Exception):
            yield f"{id_prefix}line-{n}", None, f"line {n}: invalid JSON ({row})"
        else:
            yield _record(row, f"{id_prefix}{n}", text_field, id_field)


def _json_lines(text):
    """Each line's object, the error it gave, or None for a blank line (so that rows keep their
    line numbers)."""
    for line in text:
        if not line.strip():
            yield None
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            yield e
            continue
        yield row


def _record(row: dict, default_id: str, text_field: str, id_field: str):
    rid = str(row[id_field]) if row.get(id_field) is not None else default_id
    if row.get(text_field) is None:
        return rid, None, f"no text in field {text_field!r}"
    try:
        return rid, check_text(row[text_field]), None
    except InputError as e:
        return rid, None, f"field {text_field!r}: {e}"


def classify_records(predictor, records, batch_size: int) -> list[dict]:
    """One output record per (id, text, input error), in order. A document the model fails on gets
    an error record; its neighbours are redone one by one instead of being lost with it."""
    good = [i for i, (_, _, error) in enumerate(records) if not error]
    results = {}
    try:
        predictions = predictor.predict([records[i][1] for i in good], batch_size=batch_size)
        results = {i: output_record(records[i][0], pr) for i, pr in zip(good, predictions)}
    except Exception:
        for i in good:
            rid, text, _ = records[i]
            try:
                results[i] = output_record(rid, predictor.predict_one(text, batch_size=batch_size))
            except Exception as e:
                results[i] = output_record(rid, error=f"prediction failed: {type(e).__name__}: {e}")
    return [results[i] if i in results else output_record(rid, error=error)
            for i, (rid, _, error) in enumerate(records)]


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
    if "p_original" in rec:  # read back from a finished CSV or Parquet output: flat already
        return {k: rec.get(k) for k in CSV_FIELDS}
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


PARQUET_SCHEMA = {"id": "string", "label": "string", "p_original": "float64", "p_machine_translated": "float64",
                  "p_ai_rewritten": "float64", "n_original": "int64", "n_machine_translated": "int64",
                  "n_ai_rewritten": "int64", "words": "int64", "flags": "string", "top_artifacts": "string",
                  "error": "string"}


class Output:
    """Records go to a JSON Lines journal beside OUTPUT (`OUTPUT.partial.jsonl`) as they come, in
    input order. When the run ends the journal becomes OUTPUT, in OUTPUT's format, through one
    atomic rename: a killed run leaves OUTPUT as it was, and its journal for --resume."""

    def __init__(self, out: Path):
        self.out, self.kind = out, out.suffix.lower()
        self.journal = out.with_name(out.name + ".partial.jsonl")

    def start(self, resume: bool) -> list[str]:
        """Open the journal; returns the ids of the records already done, in input order."""
        done = []
        if resume and self.journal.exists():
            data = self.journal.read_bytes()
            if data and not data.endswith(b"\n"):  # a kill left half a line: cut it, its record is redone
                with self.journal.open("r+b") as f:
                    f.truncate(data.rfind(b"\n") + 1)
            with self.journal.open(encoding="utf-8") as f:
                done = [json.loads(line)["id"] for line in f]
        elif resume and self.out.exists():  # a finished run: its records come first again
            with self.journal.open("w", encoding="utf-8") as f:
                for rec in read_output(self.out):
                    f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    done.append(rec["id"])
        self.file = self.journal.open("a" if resume else "w", encoding="utf-8")
        return done

    def write(self, rec: dict):
        self.file.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.file.flush()

    def finish(self):
        """The journal becomes OUTPUT."""
        self.file.close()
        if self.kind == ".jsonl":
            os.replace(self.journal, self.out)
            return
        tmp = self.out.with_name(self.out.name + ".tmp")
        with self.journal.open(encoding="utf-8") as f:
            rows = (flat_record(json.loads(line)) for line in f)
            if self.kind == ".csv":
                with tmp.open("w", encoding="utf-8", newline="") as g:
                    writer = csv.DictWriter(g, CSV_FIELDS)
                    writer.writeheader()
                    writer.writerows(rows)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                schema = pa.schema([(k, getattr(pa, t)()) for k, t in PARQUET_SCHEMA.items()])
                with pq.ParquetWriter(tmp, schema) as writer:
                    while batch := list(itertools.islice(rows, 10_000)):
                        writer.write_table(pa.Table.from_pylist(batch, schema))
        os.replace(tmp, self.out)
        self.journal.unlink()


def read_output(path: Path) -> list[dict]:
    """The records of a finished OUTPUT file; CSV and Parquet ones are flat (`flat_record`)."""
    kind = path.suffix.lower()
    if kind == ".jsonl":
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    if kind == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return [_typed_row(row) for row in csv.DictReader(f)]
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def _typed_row(row: dict) -> dict:
    """A CSV row with the types and nulls of the Parquet schema."""
    cast = {"float64": float, "int64": int, "string": str}
    return {k: cast[PARQUET_SCHEMA[k]](v) if v not in ("", None) else None for k, v in row.items()}


def add_record_options(p: argparse.ArgumentParser, model_help: str, backend_help: str | None = None) -> None:
    """The options telltale-batch and telltale-ray share: where a record's text and id are, the
    model, and how it runs."""
    p.add_argument("--text-field", default="text")
    p.add_argument("--id-field", default="id")
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--backend", choices=("onnx", "torch", "int8"), default="torch", help=backend_help)
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="windows per forward pass (default: 8 with ONNX Runtime, 16 with torch)")
    p.add_argument("--max-bytes", type=positive_int, default=DEFAULT_MAX_BYTES)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="telltale-batch", description=__doc__.splitlines()[0])
    p.add_argument("input", help="directory of .txt files, a glob, or a .jsonl/.csv/.parquet file")
    p.add_argument("output", help="OUT.jsonl, OUT.csv or OUT.parquet")
    p.add_argument("--resume", action="store_true",
                   help="continue a killed run: keep OUTPUT's first N records, classify the rest")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    p.add_argument("--chunk", type=positive_int, default=64, help="documents per prediction call")
    add_record_options(p, "checkpoint directory, or \"fast\" for the distilled student (default: the shipped model)",
                       "torch (default: about 1.1x the documents/s of onnx on this project's CPU), int8 "
                       "(onnx with int8 weights: 1.4-1.6x onnx on a CPU with int8 instructions, probabilities within "
                       "about 0.002 on average; CPU only) or onnx (a quarter of the memory, no torch import; "
                       "docs/benchmarks.md)")
    args = p.parse_args(argv)

    def fail(message: str, status: int = 2) -> int:
        print(f"telltale-batch: error: {message}", file=sys.stderr)
        return status

    out = Path(args.output)
    if out.suffix.lower() not in (".jsonl", ".csv", ".parquet"):
        return fail("OUTPUT must end in .jsonl, .csv or .parquet")
    source = Path(args.input)
    if source.is_file() and source.suffix.lower() not in (".jsonl", ".csv", ".parquet", ".txt"):
        return fail(f"{args.input}: expected a directory, a glob, or .jsonl/.csv/.parquet")
    output = Output(out)
    try:
        check_output_path(out, [args.input])
        check_output_path(output.journal, [args.input])
    except InputError as e:
        return fail(str(e))

    from model.predictor import Predictor, resolve_device

    try:
        resolve_device(args.device)
    except ValueError as e:
        return fail(str(e))
    try:
        predictor = Predictor.load(args.model, args.device, args.backend)
    except (OSError, ValueError, RuntimeError) as e:
        return fail(f"cannot load the model: {str(e).splitlines()[0]}", 1)

    done = output.start(args.resume)
    counts = {"written": 0, "skipped": 0, "errors": 0}
    progress = tqdm(unit="doc", desc="classifying", dynamic_ncols=True)
    chunk: list[tuple[str, str | None, str | None]] = []  # (id, text, input error), in input order

    def flush():
        for rec in classify_records(predictor, chunk, args.batch_size):
            output.write(rec)
            counts["written"] += 1
            counts["errors"] += "error" in rec
        progress.update(len(chunk))
        chunk.clear()

    inputs = read_inputs(args.input, args.text_field, args.id_field, args.max_bytes, (out, output.journal))
    try:
        for n, (rid, text, error) in enumerate(inputs):
            if n < len(done):  # resume by position: ids need not be unique
                if done[n] != rid:
                    raise InputError(f"--resume: record {n + 1} is {rid!r} in INPUT but {done[n]!r} in OUTPUT; "
                                     "they come from different inputs (run without --resume to start over)")
                counts["skipped"] += 1
                continue
            chunk.append((rid, text, error))
            if len(chunk) >= args.chunk:
                flush()
        if chunk:
            flush()
    except InputError as e:
        progress.close()
        output.file.close()
        return fail(str(e))
    progress.close()
    output.finish()
    print(f"telltale-batch: {counts['written']} written ({counts['errors']} with errors), "
          f"{counts['skipped']} already done -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
