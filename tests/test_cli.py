import json

import pytest

from conftest import ARTICLE
from model.cli import main


@pytest.fixture
def article(tmp_path):
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    return path


def test_default_output_block(article, capsys):
    assert main([str(article)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"{article}: ")
    assert "original " in out and "machine-translated " in out and "ai-rewritten " in out
    assert "sentences: 5 (" in out and "artifacts" in out
    assert "\x1b[" not in out  # not a terminal: no colour


def test_evasion_artifacts_are_listed_with_their_kind(tmp_path, capsys):
    path = tmp_path / "evasive.txt"
    path.write_text(ARTICLE.replace("the boat", "tHe b\u043eat"), encoding="utf-8")
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "'tHe'  1.00  (odd casing)" in out and "'\u043e'  1.00  (homoglyph U+043E)" in out


def test_sentences_listing_has_line_and_column(article, capsys):
    assert main([str(article), "--sentences"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("    ") and "[" in l]
    assert len(lines) == 5 and lines[0].lstrip().startswith("1:1 [") and lines[3].lstrip().startswith("3:1 [")


def test_json_output(article, capsys):
    assert main([str(article), "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["file"] == str(article) and len(rec["sentences"]) == 5
    assert sum(rec["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(rec["sentence_counts"].values()) == 5


def test_stdin(monkeypatch, capsys):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ARTICLE.encode())))
    assert main(["-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["file"] == "-"


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("DIR", "is a directory"),
    (b"", "empty or whitespace-only"),
    (b"  \n\t \n", "empty or whitespace-only"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"caf\xe9 au lait", "not valid UTF-8"),
    (b"x" * 5000, "too large"),
])
def test_bad_inputs_get_one_line_and_exit_2_while_others_are_classified(tmp_path, article, capsys, content, message):
    bad = tmp_path / "bad.txt"
    if content == "DIR":
        bad.mkdir()
    elif content is not None:
        bad.write_bytes(content)
    assert main([str(bad), str(article), "--max-bytes", "4000", "--json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"classify: {bad}: ") and message in err[0]
    assert "Traceback" not in captured.err
    assert json.loads(captured.out)["file"] == str(article)


def test_only_bad_inputs_exit_2_without_loading_the_model(tmp_path, capsys):
    assert main([str(tmp_path / "missing.txt")]) == 2
    assert capsys.readouterr().out == ""


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2
    assert main(["x.txt", "--threshold", "2"]) == 2


def test_mostly_foreign_text_is_flagged(tmp_path, capsys):
    path = tmp_path / "de.txt"
    path.write_text("Der Stadtrat hat am Dienstag beschlossen, den alten Fähranleger auch im Winter geöffnet zu "
                    "lassen. Die Reparaturen sollen im Frühjahr beginnen.", encoding="utf-8")
    assert main([str(path)]) == 2  # an input problem: the verdict is withheld, said on stderr
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{path}: uncertain") and "mostly not English" in captured.out
    assert captured.err.strip() == f"classify: {path}: text is mostly not English, which the model does not read: no verdict"


@pytest.mark.parametrize("content", ["x" * 200_000, "12 345 6.78 -- 90,12 ; 3456 7/8 " * 20])
def test_text_that_is_not_prose_gets_no_verdict(tmp_path, capsys, content):
    path = tmp_path / "junk.txt"
    path.write_text(content)
    assert main([str(path), "--json"]) == 2
    captured = capsys.readouterr()
    rec = json.loads(captured.out)
    assert rec["label"] == "uncertain" and "not-prose" in rec["flags"]
    assert len(captured.err.strip().splitlines()) == 1 and "not words" in captured.err


def test_utf16_with_a_byte_order_mark_is_read(tmp_path, capsys):
    path = tmp_path / "utf16.txt"
    path.write_bytes(ARTICLE.encode("utf-16"))
    assert main([str(path), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["sentences"]) == 5


@pytest.mark.parametrize("where, message", [("missing-dir/r.html", "does not exist"), ("INPUT", "is also an input")])
def test_unwritable_html_report_fails_before_the_work(article, tmp_path, capsys, monkeypatch, where, message):
    import model.predictor

    monkeypatch.setattr(model.predictor.Predictor, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    target = str(article) if where == "INPUT" else str(tmp_path / where)
    before = article.read_bytes()
    assert main(["--html", target, str(article)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert article.read_bytes() == before


@pytest.mark.parametrize("option, message", [(["--batch-size", "0"], "must be at least 1"),
                                             (["--max-bytes", "-1"], "must be at least 1")])
def test_nonpositive_numbers_are_usage_errors(article, capsys, option, message):
    with pytest.raises(SystemExit) as e:
        main([str(article), *option])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_missing_cuda_is_one_line(article, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main([str(article), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["classify: error: device 'cuda': CUDA is not available on this machine"]


def test_html_report_is_written(article, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main([str(article), "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count('class="sentence ') == 5 + 3  # + legend
    assert "<script" not in page and "http" not in page  # self-contained
