import csv
import json

import pyarrow.parquet as pq
import pytest

from conftest import ARTICLE
from scripts.batch import main


def read_jsonl(path):
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]


def test_directory_with_a_bad_file(tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text(ARTICLE)
    (src / "sub" / "b.txt").write_text("The pier will stay open, the council said on Tuesday.")
    (src / "empty.txt").write_text("  ")
    (src / "latin1.txt").write_bytes(b"caf\xe9")
    (src / "notes.md").write_text("ignored: not .txt")
    out = tmp_path / "out.jsonl"
    assert main([str(src), str(out)]) == 0
    recs = {r["id"].split("/in/")[1]: r for r in read_jsonl(out)}
    assert set(recs) == {"a.txt", "sub/b.txt", "empty.txt", "latin1.txt"}
    assert "empty" in recs["empty.txt"]["error"] and "UTF-8" in recs["latin1.txt"]["error"]
    good = recs["a.txt"]
    assert "error" not in good and sum(good["sentence_counts"].values()) == 5
    assert sum(good["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert len(good["top_artifacts"]) <= 5


def test_jsonl_fields_resume_and_error_records(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [{"doc": f"n{i}", "body": f"Story {i}. " + ARTICLE} for i in range(6)]
    rows[2]["body"] = ""
    lines = [json.dumps(r) for r in rows]
    lines.insert(4, "{not json")
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    # a crashed earlier run left two records and half a line in its journal
    (tmp_path / "out.jsonl.partial.jsonl").write_text(json.dumps({"id": "n0", "label": "original"}) + "\n" + json.dumps({"id": "n1", "label": "original"})
                   + "\n" + '{"id": "n3", "lab')
    assert main([str(src), str(out), "--text-field", "body", "--id-field", "doc", "--resume"]) == 0
    recs = read_jsonl(out)  # every line is valid JSON again: the half line was cut
    ids = [r["id"] for r in recs]
    assert ids == ["n0", "n1", "n2", "n3", "line-5", "n4", "n5"]  # one record per input, in order
    by_id = {r["id"]: r for r in recs}
    assert "empty" in by_id["n2"]["error"] and "invalid JSON" in by_id["line-5"]["error"]
    assert by_id["n0"] == {"id": "n0", "label": "original"}  # not redone


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_csv_and_parquet(tmp_path, suffix):
    src = tmp_path / "in.csv"
    with src.open("w", newline="") as f:
        w = csv.DictWriter(f, ["id", "text"])
        w.writeheader()
        w.writerows([{"id": "a", "text": ARTICLE}, {"id": "b", "text": ""}])
    out = tmp_path / f"out{suffix}"
    assert main([str(src), str(out)]) == 0
    if suffix == ".csv":
        with out.open(newline="") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = pq.read_table(out).to_pylist()
        assert not (tmp_path / "out.parquet.partial.jsonl").exists()
    assert [r["id"] for r in rows] == ["a", "b"]
    assert float(rows[0]["p_original"]) + float(rows[0]["p_machine_translated"]) + float(rows[0]["p_ai_rewritten"]) == pytest.approx(1, abs=1e-4)
    assert rows[1]["error"] and not rows[0]["error"]


def test_bad_output_extension_and_missing_input(tmp_path, capsys):
    assert main([str(tmp_path), str(tmp_path / "out.txt")]) == 2
    assert main([str(tmp_path / "nope"), str(tmp_path / "out.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def read_rows(out):
    from scripts.batch import read_output

    return read_output(out)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_output_equal_to_input_is_refused_and_the_input_kept(tmp_path, capsys, suffix):
    src = tmp_path / f"s{suffix}"
    if suffix == ".jsonl":
        write_jsonl(src, [{"id": "a", "text": ARTICLE}])
    elif suffix == ".csv":
        src.write_text("id,text\na,x\n")
    else:
        import pyarrow as pa

        pq.write_table(pa.table({"id": ["a"], "text": [ARTICLE]}), src)
    before = src.read_bytes()
    assert main([str(src), str(src)]) == 2
    assert main([str(src), str(tmp_path / ".." / tmp_path.name / src.name)]) == 2  # the same file, another path
    err = capsys.readouterr().err
    assert "is also an input" in err and "Traceback" not in err
    assert src.read_bytes() == before


def test_output_in_a_missing_folder_is_one_line_before_any_work(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": "a", "text": ARTICLE}])
    assert main([str(src), str(tmp_path / "missing-dir" / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]


@pytest.mark.parametrize("option", [["--batch-size", "0"], ["--max-bytes", "-1"], ["--chunk", "0"]])
def test_nonpositive_numbers_are_usage_errors(tmp_path, capsys, option):
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), str(tmp_path / "out.jsonl"), *option])
    assert e.value.code == 2 and "must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_missing_cuda_is_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main([str(tmp_path), str(tmp_path / "out.jsonl"), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_the_int8_backend_classifies_a_batch(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    assert main([str(src), str(tmp_path / "out.jsonl"), "--model", "fast", "--backend", "int8"]) == 0
    (rec,) = read_jsonl(tmp_path / "out.jsonl")
    assert "error" not in rec and sum(rec["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_bad_records_get_error_fields_that_say_what_is_wrong(tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": "num", "text": 123}), json.dumps({"id": "none"}),
             json.dumps({"id": "ok", "text": ARTICLE})]
    src.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "latin1", "text": "caf\xe9 au lait"}\n')
    out = tmp_path / "out.jsonl"
    assert main([str(src), str(out)]) == 0
    recs = {r["id"]: r for r in read_jsonl(out)}
    assert list(recs) == ["num", "none", "ok", "latin1"]
    assert "int, not text" in recs["num"]["error"] and "no text" in recs["none"]["error"]
    assert "UTF-8" in recs["latin1"]["error"] and "error" not in recs["ok"]


def test_a_rerun_replaces_the_output_in_every_format(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": str(i), "text": ARTICLE} for i in range(3)])
    for suffix in (".jsonl", ".csv", ".parquet"):
        out = tmp_path / f"out{suffix}"
        assert main([str(src), str(out)]) == 0 and main([str(src), str(out)]) == 0
        assert [r["id"] for r in read_rows(out)] == ["0", "1", "2"]
        assert not (tmp_path / f"out{suffix}.partial.jsonl").exists()


class Killed(BaseException):  # as a SIGINT is: not caught by the per-record fallback
    pass


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_kill_and_resume_with_duplicate_ids(tmp_path, monkeypatch, suffix):
    """A run killed after its first chunk, then resumed: every input exactly once, in order,
    though ids repeat; and OUTPUT is untouched until the run ends."""
    from model.predictor import Predictor

    src = tmp_path / "in.jsonl"
    rows = [{"id": "a", "text": f"Story {i}. " + ARTICLE} for i in range(5)] + [{"id": "b", "text": ""}]
    write_jsonl(src, rows)
    out = tmp_path / f"out{suffix}"
    out.write_bytes(b"an earlier run's output")
    real, calls = Predictor.predict, []

    def dies_on_second_call(self, texts, **kw):
        calls.append(len(texts))
        if len(calls) == 2:
            raise Killed
        return real(self, texts, **kw)

    monkeypatch.setattr(Predictor, "predict", dies_on_second_call)
    with pytest.raises(Killed):
        main([str(src), str(out), "--chunk", "2"])
    assert out.read_bytes() == b"an earlier run's output"
    monkeypatch.setattr(Predictor, "predict", real)
    assert main([str(src), str(out), "--chunk", "2", "--resume"]) == 0
    recs = read_rows(out)
    assert [r["id"] for r in recs] == ["a"] * 5 + ["b"]
    assert [bool(r.get("error")) for r in recs] == [False] * 5 + [True]
    # resuming a finished run redoes nothing and keeps every record
    assert main([str(src), str(out), "--resume"]) == 0
    assert [r["id"] for r in read_rows(out)] == ["a"] * 5 + ["b"]


def test_resume_on_other_input_is_refused(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": "x", "text": ARTICLE}])
    out = tmp_path / "out.jsonl"
    write_jsonl(tmp_path / "out.jsonl.partial.jsonl", [{"id": "y", "label": "original"}])
    assert main([str(src), str(out), "--resume"]) == 2
    assert "different inputs" in capsys.readouterr().err
