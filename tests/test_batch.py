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
    # a crashed earlier run left two records and half a line
    out.write_text(json.dumps({"id": "n0", "label": "original"}) + "\n" + json.dumps({"id": "n1", "label": "original"})
                   + "\n" + '{"id": "n3", "lab')
    assert main([str(src), str(out), "--text-field", "body", "--id-field", "doc", "--resume"]) == 0
    recs = read_jsonl(out)  # every line is valid JSON again: the half line was cut
    ids = [r["id"] for r in recs]
    assert sorted(ids) == ["line-5", "n0", "n1", "n2", "n3", "n4", "n5"]  # one record per input
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
