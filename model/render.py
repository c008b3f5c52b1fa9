"""Turning predictions into what people read: terminal blocks and the HTML report."""
from __future__ import annotations

import html

from model.labels import LABELS
from model.predictor import Prediction

COLORS = {"original": "32", "machine-translated": "33", "ai-rewritten": "35", "uncertain": "36"}
SHADES = {"original": "#e6f4ea", "machine-translated": "#fff4d6", "ai-rewritten": "#f6e6f7", "uncertain": "#e8f0fe"}
FLAG_TEXT = {
    "too-short": "text is too short for a reliable verdict",
    "not-english": "text is mostly not English, which the model does not read: no verdict",
    "not-prose": "text is mostly not words (numbers, symbols or one long string): no verdict",
    "no-punctuation": "text has almost no punctuation, which hides cues of machine translation; the verdict is less reliable",
}


def line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _paint(s: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{s}\x1b[0m" if color else s


def text_block(name: str, text: str, p: Prediction, sentences: bool = False, color: bool = False,
               max_artifacts: int = 20) -> str:
    """The default `classify` output for one file."""
    lines = [f"{name}: {_paint(p.label, '1;' + COLORS[p.label], color)} "
             f"({max(p.probabilities.values()):.2f})"]
    lines += [f"  warning: {FLAG_TEXT[f]}" for f in p.flags]
    lines.append("  " + "  ".join(f"{k} {v:.3f}" for k, v in p.probabilities.items()))
    counts = p.sentence_counts()
    lines.append(f"  sentences: {len(p.sentences)} (" + ", ".join(f"{counts[k]} {k}" for k in LABELS) + ")")
    if sentences:
        for s in p.sentences:
            line, col = line_col(text, s.start)
            body = _highlight(text, s.start, s.end, p, color)
            lines.append(f"    {line}:{col} {_paint(f'[{s.label}]', COLORS[s.label], color)} "
                         f"{s.probabilities[s.label]:.2f}  {body}")
    if p.artifacts:
        shown = sorted(p.artifacts, key=lambda a: -a.score)[:max_artifacts]
        lines.append(f"  artifacts: {len(p.artifacts)}" + (f" (top {len(shown)})" if len(shown) < len(p.artifacts) else ""))
        for a in sorted(shown, key=lambda a: a.start):
            line, col = line_col(text, a.start)
            # a single evasion character shows its code point
            what = f"  ({a.kind})" if len(a.text) > 1 else f"  ({a.kind} U+{ord(a.text):04X})"
            lines.append(f"    {line}:{col}  {_paint(repr(a.text), '4', color)}  {a.score:.2f}{what}")
    else:
        lines.append("  artifacts: none")
    return "\n".join(lines)


def _highlight(text, start, end, p: Prediction, color: bool) -> str:
    if not color:
        return text[start:end].replace("\n", " ")
    out, pos = [], start
    for a in p.artifacts:
        if a.start >= start and a.end <= end and a.start >= pos:
            out += [text[pos:a.start], _paint(text[a.start:a.end], "4;31", True)]
            pos = a.end
    out.append(text[pos:end])
    return "".join(out).replace("\n", " ")


def _underlined(text: str, start: int, end: int, artifacts) -> str:
    """Escaped text[start:end] with each artifact underlined; artifacts come sorted by
    (start, -end) and either nest (a homoglyph inside a flagged phrase) or are disjoint."""
    out, pos, i = [], start, 0
    while i < len(artifacts):
        a = artifacts[i]
        inner = [b for b in artifacts[i + 1 :] if a.start <= b.start and b.end <= a.end]
        title = f"{a.kind}: {a.score:.2f}"
        out += [html.escape(text[pos : a.start]),
                f'<u class="artifact {a.kind.replace(" ", "-")}" data-score="{a.score:.4f}" title="{html.escape(title)}">',
                _underlined(text, a.start, a.end, inner), "</u>"]
        pos, i = a.end, i + 1 + len(inner)
    out.append(html.escape(text[pos:end]))
    return "".join(out)


def html_report(items: list[tuple[str, str, Prediction]]) -> str:
    """One self-contained page: each document with its verdict, sentences shaded by label and
    artifacts underlined (score on hover)."""
    parts = []
    for name, text, p in items:
        probs = " · ".join(f"{k} {v:.3f}" for k, v in p.probabilities.items())
        flags = "".join(f'<p class="flag">{html.escape(FLAG_TEXT[f])}</p>' for f in p.flags)
        body = []
        for s in p.sentences:
            inner = _underlined(text, s.start, s.end, [a for a in p.artifacts if s.start <= a.start and a.end <= s.end])
            tip = ", ".join(f"{k} {v:.2f}" for k, v in s.probabilities.items())
            body.append(f'<span class="sentence {s.label}" data-label="{s.label}" title="{tip}">{inner}</span>')
            gap_end = next((t.start for t in p.sentences if t.start >= s.end), len(text))
            body.append(html.escape(text[s.end:gap_end]).replace("\n\n", "<br><br>"))
        parts.append(
            f'<section class="doc" data-label="{p.label}"><h2>{html.escape(name)}: '
            f'<span class="verdict {p.label}">{p.label}</span></h2><p class="probs">{probs}</p>{flags}'
            f'<div class="text">{"".join(body)}</div></section>'
        )
    shades = "".join(f".{k}{{background:{v}}}" for k, v in SHADES.items())
    legend = "".join(f'<span class="sentence {k}">{k}</span> ' for k in LABELS)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>telltale report</title><style>"
        "body{font:16px/1.6 Georgia,serif;max-width:52em;margin:2em auto;padding:0 1em;color:#222}"
        "h1{font-family:sans-serif}h2{font:600 18px sans-serif}.probs,.flag{font:13px sans-serif;color:#555}"
        ".flag{color:#a50}.verdict{padding:0 .3em;border-radius:3px}.sentence{border-radius:2px}"
        "u.artifact{text-decoration:underline wavy #c00;text-underline-offset:3px;cursor:help}"
        f"{shades}</style></head><body><h1>telltale report</h1><p class='probs'>Sentences shaded by label: "
        f"{legend}· artifacts underlined (hover for the score)</p>{''.join(parts)}</body></html>\n"
    )
