"""`telltale index` and `telltale match`: which original article was a suspect text made from?

    telltale index ORIGINALS... --db PATH     # .txt files, directories, globs, .jsonl/.csv/.parquet
    telltale match FILE... --db PATH [--json] [--html OUT.html]

`--url http://host:6333` uses a Qdrant server instead of the local index directory.
"""
from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from model.inputs import DEFAULT_MAX_BYTES, InputError, check_output_path, positive_int, read_text_files
from model.text import split_sentences

STATUS_SHADES = {"kept": "#e6f4ea", "reworded": "#f6e6f7", "translated": "#fff4d6", "added": "#fde2e1"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="telltale", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="add original articles to an index")
    index.add_argument("originals", nargs="+", help=".txt files, directories, globs, or .jsonl/.csv/.parquet files")
    index.add_argument("--text-field", default="text")
    index.add_argument("--id-field", default="id")
    match = commands.add_parser("match", help="find the article each suspect text was made from")
    match.add_argument("files", nargs="+", help="suspect texts (.txt; - for standard input)")
    match.add_argument("--json", action="store_true", help="one JSON object per file")
    match.add_argument("--html", metavar="OUT.html", help="a side-by-side report of each match")
    match.add_argument("--top", type=positive_int, default=5, help="candidate articles listed")
    match.add_argument("--no-label", action="store_true", help="skip telltale's own verdict (faster)")
    for p in (index, match):
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--db", help="the index directory (created by the first `telltale index`)")
        where.add_argument("--url", help="a Qdrant server instead, e.g. http://localhost:6333")
        p.add_argument("--max-bytes", type=positive_int, default=DEFAULT_MAX_BYTES)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "match" and args.html:
            check_output_path(args.html, args.files)
        if args.command == "match" and args.db and not Path(args.db).is_dir():
            raise InputError(f"{args.db}: no index there (make one with `telltale index ... --db {args.db}`)")
        from model.match import Matcher

        matcher = Matcher.open(args.db, args.url)
    except (InputError, ValueError, OSError, RuntimeError) as e:
        print(f"telltale: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    return index(args, matcher) if args.command == "index" else match(args, matcher)


def index(args, matcher) -> int:
    from scripts.batch import read_inputs

    matcher.embedder  # loaded before the clock starts: the rate below is the indexing's own
    started, added, failed = time.time(), 0, False
    batch_texts, batch_ids = [], []

    def flush():
        nonlocal added
        if batch_texts:
            matcher.add(batch_texts, batch_ids)
            added += len(batch_texts)
            batch_texts.clear()
            batch_ids.clear()

    for source in args.originals:
        try:
            for rid, text, error in read_inputs(source, args.text_field, args.id_field, args.max_bytes):
                if error:
                    print(f"telltale: {rid}: {error} (not indexed)", file=sys.stderr)
                    failed = True
                    continue
                batch_texts.append(text)
                batch_ids.append(rid)
                if len(batch_texts) >= 64:
                    flush()
        except InputError as e:
            print(f"telltale: {e}", file=sys.stderr)
            failed = True
    flush()
    seconds = time.time() - started
    print(f"telltale: indexed {added} articles in {seconds:.0f} s ({added / max(seconds, 1e-9):.1f}/s); "
          f"the index holds {matcher.count()}", file=sys.stderr)
    return 2 if failed or not added else 0


def match(args, matcher) -> int:
    texts, failed = read_text_files(args.files, args.max_bytes, "telltale")
    if not texts:
        return 2
    predictor = None
    if not args.no_label:
        from model.predictor import Predictor

        predictor = Predictor.load()
    try:
        found = matcher.match([t for _, t in texts], predictor=predictor, top=args.top)
    except ValueError as e:
        print(f"telltale: error: {e}", file=sys.stderr)
        return 2
    for (name, text), m in zip(texts, found):
        if args.json:
            print(json.dumps({"file": name, **m.to_dict()}, ensure_ascii=False))
        else:
            print(text_block(name, text, m, matcher.threshold))
    if args.html:
        Path(args.html).write_text(html_report([(n, t, m) for (n, t), m in zip(texts, found)]), encoding="utf-8")
        print(f"telltale: wrote {args.html}", file=sys.stderr)
    return 2 if failed else 0


def text_block(name: str, text: str, m, threshold: float) -> str:
    label = f", telltale says {m.label}" if m.label else ""
    if m.source_id is None:
        return (f"{name}: no source at or above {threshold:.3f} (the nearest, {m.candidates[0][0]}, scores "
                f"{m.score:.3f}){label}")
    counts = {s: sum(a.status == s for a in m.sentences) for s in STATUS_SHADES}
    lines = [f"{name}: made from {m.source_id} (score {m.score:.3f}, {100 * m.coverage:.0f}% of its words "
             f"from there){label}",
             "  sentences: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + f"; {len(m.dropped)} of the source's dropped"]
    for a in m.sentences:
        if a.status != "kept":
            src = f"  <- {m.source_text[a.source_start:a.source_end]!r}" if a.source_start is not None else ""
            lines.append(f"    {a.status:<10} {text[a.start:a.end]!r}{src}")
    lines.append("  candidates: " + ", ".join(f"{i} {s:.3f}" for i, s in m.candidates))
    return "\n".join(lines)


def html_report(items) -> str:
    """Each suspect text beside its source: suspect sentences shaded by status, with the source
    sentence they came from on hover; the source's dropped sentences struck through."""
    parts = []
    for name, text, m in items:
        if m.source_id is None:
            parts.append(f"<section><h2>{html.escape(name)}: no source found</h2></section>")
            continue
        ours = _with_gaps(text, [(a.start, a.end, (
            f'<span class="{a.status}" title="{a.status} ({a.similarity:.2f})'
            + (f': {html.escape(m.source_text[a.source_start:a.source_end], quote=True)}' if a.source_start is not None else "")
            + f'">{html.escape(text[a.start:a.end])}</span>')) for a in m.sentences])
        dropped = set(m.dropped)
        theirs = _with_gaps(m.source_text, [(a, b, f'<s class="dropped">{html.escape(m.source_text[a:b])}</s>'
                                             if (a, b) in dropped else html.escape(m.source_text[a:b]))
                                            for a, b in split_sentences(m.source_text)])
        label = f" · telltale: {html.escape(m.label)}" if m.label else ""
        parts.append(f"<section><h2>{html.escape(name)} ← {html.escape(m.source_id)} "
                     f"<small>score {m.score:.3f}{label}</small></h2><div class='pair'><div>{ours}</div>"
                     f"<div class='source'>{theirs}</div></div></section>")
    shades = "".join(f".{k}{{background:{v}}}" for k, v in STATUS_SHADES.items())
    legend = " ".join(f'<span class="{k}">{k}</span>' for k in STATUS_SHADES)
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>telltale match</title><style>"
            "body{font:15px/1.6 Georgia,serif;margin:2em;color:#222}h2{font:600 17px sans-serif}"
            ".pair{display:grid;grid-template-columns:1fr 1fr;gap:2em}.source{color:#444}"
            f"s.dropped{{color:#a00}}span{{border-radius:2px;cursor:help}}{shades}</style></head><body>"
            f"<h1>telltale match</h1><p>Suspect text (left), shaded: {legend}; its source (right), "
            f"sentences no suspect sentence came from struck through.</p>{''.join(parts)}</body></html>\n")


def _with_gaps(text: str, pieces: list[tuple[int, int, str]]) -> str:
    """The pieces' markup with the text between them, paragraph breaks kept."""
    out, at = [], 0
    for a, b, markup in pieces:
        out += [html.escape(text[at:a]).replace("\n\n", "<br><br>"), markup]
        at = b
    return "".join(out)


def entrypoint() -> None:
    from model.cli import run

    run(main)


if __name__ == "__main__":
    entrypoint()
