import html.parser
import shutil
import subprocess

import pytest

from conftest import ARTICLE
from model.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Spans(html.parser.HTMLParser):
    """Collects the sentence and artifact elements of a page and their text."""

    def __init__(self):
        super().__init__()
        self.sentences, self.artifacts, self.stack = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        cls = (attrs.get("class") or "").split()
        if tag == "span" and "sentence" in cls and "data-label" in attrs:
            self.sentences.append([attrs["data-label"], ""])
            self.stack.append("sentence")
        elif tag == "u" and "artifact" in cls:
            self.artifacts.append([float(attrs["data-score"]), attrs.get("title", ""), ""])
            self.stack.append(len(self.artifacts) - 1)
        else:
            self.stack.append(None)

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if "sentence" in self.stack:
            self.sentences[-1][1] += data
        for entry in self.stack:  # nested artifacts: the text belongs to every open one
            if isinstance(entry, int):
                self.artifacts[entry][2] += data


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_html_report_renders_in_chromium(tmp_path, predictor):
    text = "The c\u043euncil v\u200boted on Tuesday to keep the pier open. " + ARTICLE
    src = tmp_path / "story.txt"
    src.write_text(text, encoding="utf-8")
    page = tmp_path / "report.html"
    assert main([str(src), "--html", str(page)]) == 0
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    parsed = Spans()
    parsed.feed(dom)
    expected = predictor.predict_one(text)
    assert [label for label, _ in parsed.sentences] == [s.label for s in expected.sentences]
    assert [body for _, body in parsed.sentences] == [s.text for s in expected.sentences]
    # every artifact is underlined once, with its score on hover
    assert [(round(score, 4), body) for score, _, body in parsed.artifacts] == \
        [(round(a.score, 4), a.text) for a in expected.artifacts]
    assert any(title.startswith("homoglyph") for _, title, _ in parsed.artifacts)
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=900,700",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 5000
