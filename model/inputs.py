"""Reading user input: the checks shared by `classify` and the batch script.

Every problem becomes an `InputError` whose message is one line fit for stderr.
"""
from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_MAX_BYTES = 2_000_000  # ~300k words; far beyond any news article


class InputError(Exception):
    pass


def check_text(text: str) -> str:
    if not text.strip():
        raise InputError("empty or whitespace-only text")
    controls = sum(1 for c in text if ord(c) < 32 and c not in "\n\r\t\f")
    if "\x00" in text or controls > max(8, len(text) // 100):
        raise InputError("looks like binary data, not text")
    return text


def decode(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    if len(data) > max_bytes:
        raise InputError(f"too large ({len(data):,} bytes; the limit is {max_bytes:,}, see --max-bytes)")
    if b"\x00" in data[:8192]:
        raise InputError("looks like binary data, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 (byte {e.start}); convert it with iconv first") from None
    return check_text(text)


def read_text_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Read `path` ('-' = stdin) as UTF-8 text, or raise InputError."""
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
