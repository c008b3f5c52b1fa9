"""`classify`: label text files as original, machine-translated or AI-rewritten.

Exit status: 0 when every input was classified, 2 for usage or input errors (the other
inputs are still classified), 1 when the model itself could not be loaded.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from model.inputs import DEFAULT_MAX_BYTES, InputError, check_output_path, positive_int, read_text_files


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="classify",
        description="Tell whether news text is original, machine-translated or AI-rewritten, "
                    "and show the artifacts that gave it away.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="text files (UTF-8); '-' reads standard input")
    p.add_argument("--sentences", action="store_true", help="list every sentence with its label")
    p.add_argument("--json", action="store_true", help="print one JSON object per file (JSON Lines)")
    p.add_argument("--html", metavar="OUT.html", help="also write a highlighted HTML report")
    p.add_argument("--no-color", action="store_true", help="never colour the output")
    p.add_argument("--threshold", type=float, default=None, metavar="P",
                   help="verdicts whose probability is below P are 'uncertain' (default: the model's two "
                        "bars, one for machine labels and one for 'original')")
    p.add_argument("--max-bytes", type=positive_int, default=DEFAULT_MAX_BYTES,
                   help="skip larger files (default %(default)s)")
    p.add_argument("--model", default=None, help="checkpoint directory, or \"fast\": a distilled 4-layer student, about 3x the "
                   "documents/s for 4-5 points of recall (default: the shipped model)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="windows per forward pass (default: 8 with ONNX Runtime, 16 with torch)")
    p.add_argument("--backend", choices=("onnx", "torch", "int8"), default=None,
                   help="onnx (the default on a CPU; built once from the model and cached), torch, or int8 (onnx "
                        "with int8 weights: faster, outputs a little different; CPU only)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        print("classify: error: --threshold must be between 0 and 1", file=sys.stderr)
        return 2
    if args.files.count("-") > 1:
        print("classify: error: '-' (standard input) can be given only once", file=sys.stderr)
        return 2
    try:
        if args.html:  # before the work, so that none of it is lost to an unwritable report
            check_output_path(args.html, args.files)
        if args.device:
            from model.predictor import resolve_device

            resolve_device(args.device)
    except (InputError, ValueError) as e:
        print(f"classify: error: {e}", file=sys.stderr)
        return 2

    texts, failed = read_text_files(args.files, args.max_bytes, "classify")
    if not texts:
        return 2

    try:
        from model.predictor import Predictor

        predictor = Predictor.load(args.model, args.device, args.backend)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"classify: cannot load the model: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1

    predictions = predictor.predict([t for _, t in texts], batch_size=args.batch_size,
                                    threshold=args.threshold)
    color = not args.no_color and not args.json and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    from model.predictor import WITHHOLDING_FLAGS
    from model.render import FLAG_TEXT, html_report, text_block

    for (name, text), p in zip(texts, predictions):
        withheld = [f for f in p.flags if f in WITHHOLDING_FLAGS]
        if withheld:  # classified, but the verdict is withheld: an input problem, said once on stderr
            print(f"classify: {name if name != '-' else '<stdin>'}: {FLAG_TEXT[withheld[0]]}", file=sys.stderr)
            failed = True
        if args.json:
            print(json.dumps({"file": name, **p.to_dict(), "sentence_counts": p.sentence_counts()},
                             ensure_ascii=False))
        else:
            print(text_block(name, text, p, sentences=args.sentences, color=color))
            if len(texts) > 1:
                print()
    if args.html:
        Path(args.html).write_text(html_report([(n, t, p) for (n, t), p in zip(texts, predictions)]),
                                   encoding="utf-8")
        print(f"classify: wrote {args.html}", file=sys.stderr)
    return 2 if failed else 0


def run(main) -> None:
    """Exit with main()'s status; Ctrl-C (130) and a closed pipe (`| head`) end without a traceback."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)


def entrypoint() -> None:
    run(main)


if __name__ == "__main__":
    entrypoint()
