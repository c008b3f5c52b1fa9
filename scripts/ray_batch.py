"""`telltale-ray`: `telltale-batch` on a Ray cluster (Ray Data), for crawls and archives.

    telltale-ray INPUT OUTDIR [--address ADDRESS] [--actors N] [--gpus-per-actor 1] [--resume]

INPUT is a file, a directory or a glob, local or in an object store (s3://, gs://, ...): .txt
files (one document each) and .jsonl / .csv / .parquet files (one document per row). Ray Data
reads them, a pool of actors that each load the model once classifies them, and this process
writes OUTDIR/part-FFFFF-CCCCCC.parquet: the rows of input file F, chunk C (`--part-size` rows),
with the record schema of `telltale-batch`'s Parquet output, in input order. Every input row
gives exactly one record; a bad one carries an `error` field. A part appears only once complete,
so `--resume` redoes only the parts a killed run had not finished. Without --address a local Ray
is started on this machine.
"""
from __future__ import annotations

import argparse
import fnmatch
import io
import json
import logging
import os
import sys
import warnings
from pathlib import PurePosixPath

from tqdm import tqdm

from model.checkpoint import read_settings
from model.inputs import InputError, decode, positive_int
from model.predictor import model_path
from scripts.batch import PARQUET_SCHEMA, add_record_options, classify_records, flat_record, read_table

SUFFIXES = (".txt", ".jsonl", ".csv", ".parquet")
MANIFEST = "_inputs.json"  # the input files and part size a run was started with, for --resume
READER_CPUS = 0  # light work: scheduled beside actors that hold every core
POSITION = {"file": "int64", "row": "int64"}  # where a record came from; names its part, not written


def list_inputs(source: str):
    """(filesystem, sorted file paths) of a file, a directory (every file of SUFFIXES below it) or
    a glob; local paths or URIs that pyarrow opens."""
    from pyarrow import fs as pafs

    base, pattern = source, None
    if any(c in source for c in "*?["):
        parts = source.split("/")
        first = next(i for i, part in enumerate(parts) if any(c in part for c in "*?["))
        base, pattern = "/".join(parts[:first]) or ".", source
    filesystem, root = filesystem_of(base)
    info = filesystem.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise InputError(f"{base}: no such file or directory")
    if info.type == pafs.FileType.File:
        if PurePosixPath(root).suffix.lower() not in SUFFIXES:
            raise InputError(f"{source}: expected {', '.join(SUFFIXES)} files")
        return filesystem, [root]
    found = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    paths = [f.path for f in found if f.type == pafs.FileType.File and PurePosixPath(f.path).suffix.lower() in SUFFIXES]
    if pattern is not None:  # match the glob's tail against the part of each path below the base
        tail = pattern[len(base):].lstrip("/") if base != "." else pattern
        paths = [p for p in paths if fnmatch.fnmatch(os.path.relpath(p, root), tail)]
    if not paths:
        raise InputError(f"{source}: no {', '.join(SUFFIXES)} files")
    return filesystem, sorted(paths)


def filesystem_of(uri: str):
    """(pyarrow filesystem, path in it) of a local path or a URI (s3://, gs://, ...)."""
    from pyarrow import fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except ValueError:  # pyarrow.ArrowInvalid: a relative local path
        return pafs.LocalFileSystem(), os.path.abspath(uri)


def input_rows(file: dict, paths: dict[str, int], text_field: str, id_field: str, max_bytes: int,
               part_size: int, done: frozenset) -> list[dict]:
    """The records of one input file (a row of ray.data.read_binary_files), but those of parts
    already written."""
    index = paths[file["path"]]
    suffix = PurePosixPath(file["path"]).suffix.lower()
    if suffix == ".txt":
        try:
            records = [(file["path"], decode(file["bytes"], max_bytes), None)]
        except InputError as e:
            records = [(file["path"], None, str(e))]
    else:  # several tables: default ids name their file
        prefix = f"{PurePosixPath(file['path']).name}:" if len(paths) > 1 else ""
        records = read_table(io.BytesIO(file["bytes"]), suffix, text_field, id_field, prefix)
    return [{"id": rid, "text": text, "error": error, "file": index, "row": row}
            for row, (rid, text, error) in enumerate(records) if (index, row // part_size) not in done]


class Classifier:
    """A Ray actor: loads the model once, then classifies batches of input rows."""

    def __init__(self, model, backend, device, batch_size, threads):
        os.environ["TELLTALE_THREADS"] = str(threads)  # ONNX Runtime: this actor's share of the cores
        if backend == "torch":
            import torch

            torch.set_num_threads(threads)
        from model.predictor import Predictor

        self.predictor = Predictor.load(model, device, backend)
        self.batch_size = batch_size

    def __call__(self, batch):
        import pyarrow as pa

        rows = batch.to_pylist()
        records = classify_records(self.predictor, [(r["id"], r["text"], r["error"]) for r in rows], self.batch_size)
        flat = [{**flat_record(rec), "file": r["file"], "row": r["row"]} for rec, r in zip(records, rows)]
        return pa.Table.from_pylist(flat, arrow_schema({**PARQUET_SCHEMA, **POSITION}))


def arrow_schema(types: dict):
    import pyarrow as pa

    return pa.schema([(k, getattr(pa, t)()) for k, t in types.items()])


class Parts:
    """OUTDIR/part-FFFFF-CCCCCC.parquet: one per chunk of `part_size` rows of input file F; written
    under a temporary name and moved into place once whole, so that a part that exists is done."""

    def __init__(self, filesystem, outdir: str, part_size: int):
        self.fs, self.outdir, self.part_size = filesystem, outdir.rstrip("/"), part_size

    def name(self, key) -> str:
        return f"{self.outdir}/part-{key[0]:05d}-{key[1]:06d}.parquet"

    def done(self) -> frozenset:
        from pyarrow import fs as pafs

        found = self.fs.get_file_info(pafs.FileSelector(self.outdir, allow_not_found=True))
        keys = set()
        for f in found:
            name = PurePosixPath(f.path).name
            if name.startswith("part-") and name.endswith(".parquet"):
                _, file, chunk = name[:-len(".parquet")].split("-")
                keys.add((int(file), int(chunk)))
        return frozenset(keys)

    def write(self, key, tables: list):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables(tables).drop_columns(list(POSITION))
        tmp = self.name(key) + ".tmp"
        with self.fs.open_output_stream(tmp) as f:
            pq.write_table(table, f)
        self.fs.move(tmp, self.name(key))


def read_parts(outdir: str) -> list[dict]:
    """Every record of OUTDIR, in input order."""
    import pyarrow.parquet as pq

    parts = Parts(*filesystem_of(outdir), part_size=0)
    return [rec for key in sorted(parts.done())
            for rec in pq.read_table(parts.name(key), filesystem=parts.fs).to_pylist()]


def runs(keys: list) -> list[tuple]:
    """(key, start, end) of each run of equal keys."""
    bounds = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]] + [len(keys)]
    return [(keys[a], a, b) for a, b in zip(bounds, bounds[1:]) if a < b]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="telltale-ray", description=__doc__.splitlines()[0])
    p.add_argument("input", help="a file, directory or glob of .txt/.jsonl/.csv/.parquet; local or s3://, gs://...")
    p.add_argument("outdir", help="the output directory (local or s3://, gs://...)")
    p.add_argument("--address", default=None, help="a Ray cluster (default: start Ray on this machine)")
    p.add_argument("--actors", type=positive_int, default=None,
                   help="model copies classifying at once (default: as many as the cluster's CPUs, or GPUs, hold)")
    p.add_argument("--cpus-per-actor", type=positive_int, default=1, help="threads each copy runs (1 gave the most documents/s per core: docs/benchmarks.md)")
    p.add_argument("--gpus-per-actor", type=float, default=0, help="1 runs each copy on its own GPU")
    p.add_argument("--cpus", type=positive_int, default=None, help="CPUs of the local Ray (default: all)")
    p.add_argument("--resume", action="store_true", help="continue a killed run: redo only unfinished parts")
    p.add_argument("--part-size", type=positive_int, default=10_000, help="rows per output part")
    p.add_argument("--docs-per-call", type=positive_int, default=64, help="documents an actor takes at once")
    add_record_options(p, "checkpoint directory, on every node, or \"fast\" (default: the shipped model)")
    args = p.parse_args(argv)

    def fail(message: str, status: int = 2) -> int:
        print(f"telltale-ray: error: {message}", file=sys.stderr)
        return status

    try:
        import ray
    except ImportError:
        return fail("Ray is not installed: pip install -e '.[ray]'")
    try:
        filesystem, paths = list_inputs(args.input)
        if args.model is not None:  # checked here too, so that a typo is one line, not an actor's traceback
            read_settings(model_path(args.model))
    except (InputError, OSError, ValueError) as e:
        return fail(str(e))
    out_fs, outdir = filesystem_of(args.outdir)
    paths = [path for path in paths if not path.startswith(outdir.rstrip("/") + "/")]  # not our own parts
    if not paths:
        return fail(f"{args.input}: nothing to classify outside {args.outdir}")
    parts = Parts(out_fs, outdir, args.part_size)
    manifest = {"inputs": paths, "part_size": args.part_size}
    manifest_path = f"{parts.outdir}/{MANIFEST}"
    done = parts.done()
    if args.resume and done:
        try:
            with out_fs.open_input_stream(manifest_path) as f:
                same = json.loads(f.read()) == manifest
        except (OSError, ValueError):
            same = False
        if not same:
            return fail(f"--resume: {args.outdir} was written from other inputs or another --part-size "
                        "(run without --resume into an empty directory to start over)")
    elif done:
        return fail(f"{args.outdir} holds parts of an earlier run: --resume it, or choose an empty directory")
    out_fs.create_dir(parts.outdir, recursive=True)
    with out_fs.open_output_stream(manifest_path) as f:
        f.write(json.dumps(manifest).encode())

    started = not ray.is_initialized()  # a caller's own Ray session is used as it is, and left running
    if started:
        ray.init(address=args.address, num_cpus=args.cpus if args.address is None else None,
                 include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    if args.actors is None:
        resources = ray.cluster_resources()
        args.actors = max(1, int(resources.get("GPU", 0) // args.gpus_per_actor if args.gpus_per_actor
                                 else resources.get("CPU", 1) // args.cpus_per_actor))
    try:
        counts = write_parts(pipeline(ray, args, filesystem, paths, done), parts)
    except ray.exceptions.RayError as e:
        return fail(f"the Ray job failed: {str(e).strip().splitlines()[-1]} (the parts written are kept: "
                    "rerun with --resume)", 1)
    finally:
        if started:
            ray.shutdown()
    print(f"telltale-ray: {counts['written']} written ({counts['errors']} with errors) in {counts['parts']} parts "
          f"by {args.actors} actors, "
          f"{len(done)} parts already done -> {args.outdir}", file=sys.stderr)
    return 0


def pipeline(ray, args, filesystem, paths: list[str], done: frozenset):
    """The Ray Data dataset of output records (with their position), in input order."""
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # parts are written in input order as they complete
    context.enable_progress_bars = False
    # Blocks of about 250 news articles instead of Ray's 128 MiB, so that one big input file is spread
    # over every actor. (A streaming repartition would need a CPU of its own, which actors holding
    # every core never leave it.)
    context.target_max_block_size = args.docs_per_call * 16 * 1024
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="ray")  # e.g. "only received 1 input": it counts before the reads

    ds = ray.data.read_binary_files(paths, include_paths=True, filesystem=filesystem, num_cpus=READER_CPUS)
    ds = ds.flat_map(input_rows, num_cpus=READER_CPUS, fn_kwargs=dict(
        paths={path: i for i, path in enumerate(paths)}, text_field=args.text_field, id_field=args.id_field,
        max_bytes=args.max_bytes, part_size=args.part_size, done=done))
    device = "cuda" if args.gpus_per_actor > 0 else "cpu"
    return ds.map_batches(
        Classifier, fn_constructor_args=(args.model, args.backend, device, args.batch_size, args.cpus_per_actor),
        batch_size=args.docs_per_call, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=args.actors),
        num_cpus=args.cpus_per_actor, num_gpus=args.gpus_per_actor)


def write_parts(ds, parts: Parts) -> dict:
    """Write the dataset's records as parts, each once it is whole; returns counts."""
    counts = {"written": 0, "errors": 0, "parts": 0}
    key, pending = None, []  # the part being gathered: records arrive in input order
    with tqdm(unit="doc", desc="classifying", dynamic_ncols=True) as progress:
        for table in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            keys = [(f, r // parts.part_size) for f, r in zip(table["file"].to_pylist(), table["row"].to_pylist())]
            for run_key, a, b in runs(keys):
                if run_key != key and pending:
                    parts.write(key, pending)
                    counts["parts"] += 1
                    pending = []
                key = run_key
                pending.append(table.slice(a, b - a))
            counts["written"] += len(table)
            counts["errors"] += len(table) - table["error"].null_count
            progress.update(len(table))
    if pending:
        parts.write(key, pending)
        counts["parts"] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
