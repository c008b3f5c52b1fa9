"""Reading user input: the checks shared by `classify` and the batch script.

Every problem becomes an `InputError` whose message is one line fit for stderr.
"""
from __future__ import annotations

import argparse
import codecs
import os
import re
import sys
from pathlib import Path

DEFAULT_MAX_BYTES = 2_000_000  # ~300k words; far beyond any news article
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that errors="surrogateescape" kept from a bad decode


class InputError(Exception):
    pass


def check_text(text) -> str:
    if not isinstance(text, str):
        raise InputError(f"holds {type(text).__name__}, not text")
    if _UNDECODED.search(text):
        raise InputError("not valid UTF-8; convert it with iconv first")
    if not text.strip():
        raise InputError("empty or whitespace-only text")
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    if "\x00" in text or controls > max(8, len(text) // 100):
        raise InputError("looks like binary data, not text")
    return text


def decode(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    if len(data) > max_bytes:
        raise InputError(f"too large ({len(data):,} bytes; the limit is {max_bytes:,}, see --max-bytes)")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Windows editors save "Unicode" so
        try:
            return check_text(data.decode("utf-16"))
        except UnicodeDecodeError:
            raise InputError("starts like UTF-16 but is not valid UTF-16") from None
    if b"\x00" in data[:8192]:
        raise InputError("looks like binary data (or UTF-16 without a byte-order mark), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 (byte {e.start}); convert it with iconv first") from None
    return check_text(text)


def read_text_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Read `path` ('-' = stdin) as UTF-8 (or UTF-16 with a byte-order mark) text, or raise InputError."""
    if path == "-":
        return decode(sys.stdin.buffer.read(max_bytes + 1), max_bytes)
    p = Path(path)
    if not p.exists():
        raise InputError("no such file")
    if p.is_dir():
        raise InputError("is a directory")
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InputError(f"too large ({size:,} bytes; the limit is {max_bytes:,}, see --max-bytes)")
        with p.open("rb") as f:
            return decode(f.read(max_bytes + 1), max_bytes)
    except PermissionError:
        raise InputError("permission denied") from None
    except OSError as e:
        raise InputError(e.strerror or str(e)) from None


def read_text_files(names: list[str], max_bytes: int, prog: str) -> tuple[list[tuple[str, str]], bool]:
    """(name, text) of each file that could be read, and whether any could not: each of those is
    one line on stderr, and the others are still read."""
    texts, failed = [], False
    for name in names:
        try:
            texts.append((name, read_text_file(name, max_bytes)))
        except InputError as e:
            print(f"{prog}: {name if name != '-' else '<stdin>'}: {e}", file=sys.stderr)
            failed = True
    return texts, failed


def check_output_path(out: str | Path, inputs=()) -> None:
    """Refuse, before any work, an output file that cannot be written or that is one of the inputs."""
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"{out}: folder {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise InputError(f"{out}: is a directory")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InputError(f"{out}: permission denied")
    for name in inputs:
        if name != "-" and Path(name).exists() and (
                Path(name).resolve() == out.resolve() or (out.exists() and os.path.samefile(name, out))):
            raise InputError(f"{out}: is also an input; writing it would destroy that input")


def positive_int(value: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n
