"""telltale-ray on a local Ray with two CPUs: every input row gives one record, in input order,
with telltale-batch's schema; bad rows carry errors; --resume redoes only unfinished parts."""
import json

import pyarrow.parquet as pq
import pytest

from conftest import ARTICLE

pytest.importorskip("ray")

from scripts.batch import PARQUET_SCHEMA  # noqa: E402
from scripts.ray_batch import arrow_schema, main, read_parts  # noqa: E402


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """48 documents over a JSONL file, a Parquet file and three .txt files, with bad ones among them."""
    import pyarrow as pa

    src = tmp_path_factory.mktemp("in")
    rows = [{"id": f"doc-{i:03d}", "text": f"Story {i}. " + ARTICLE[: 200 + 40 * (i % 5)]} for i in range(30)]
    rows[3]["text"] = ""
    rows[7].pop("text")
    lines = [json.dumps(r) for r in rows]
    lines.insert(5, "{not json")
    (src / "a.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "doc-latin1", "text": "caf\xe9"}\n')
    table = [{"id": f"pq-{i:02d}", "text": f"Report {i}. " + ARTICLE[:300]} for i in range(14)]
    table[4]["text"] = None
    pq.write_table(pa.Table.from_pylist(table), src / "b.parquet")
    (src / "c1.txt").write_text("The harbour board met on Monday. " + ARTICLE[:250])
    (src / "c2.txt").write_bytes(b"\xff\xfe\x00binary")
    (src / "c3.txt").write_text("   ")
    (src / "notes.md").write_text("not an input")
    expected = ([r["id"] for r in rows[:5]] + ["a.jsonl:line-6"] + [r["id"] for r in rows[5:]] + ["doc-latin1"]
                + [r["id"] for r in table] + [str(src / f"c{i}.txt") for i in (1, 2, 3)])
    errors = {"doc-003", "doc-007", "a.jsonl:line-6", "doc-latin1", "pq-04", str(src / "c2.txt"), str(src / "c3.txt")}
    return src, expected, errors


def run(*args):
    return main([*map(str, args), "--cpus", "2", "--actors", "2", "--docs-per-call", "8"])


def test_every_row_once_in_order_with_the_batch_schema(inputs, tmp_path, capsys):
    src, expected, errors = inputs
    out = tmp_path / "out"
    assert run(src, out, "--part-size", "10") == 0
    recs = read_parts(out)
    assert [r["id"] for r in recs] == expected
    assert {r["id"] for r in recs if r["error"]} == errors
    for path in out.glob("part-*.parquet"):  # telltale-batch's Parquet columns, nothing more
        assert pq.read_schema(path).remove_metadata() == arrow_schema(PARQUET_SCHEMA)
    good = [r for r in recs if not r["error"]]
    assert all(r["label"] in ("original", "machine-translated", "ai-rewritten", "uncertain") for r in good)
    assert all(r["p_original"] + r["p_machine_translated"] + r["p_ai_rewritten"] == pytest.approx(1, abs=1e-4)
               for r in good)
    assert sorted(p.name for p in out.glob("part-*"))[:4] == [
        "part-00000-000000.parquet", "part-00000-000001.parquet", "part-00000-000002.parquet",
        "part-00000-000003.parquet"]  # a.jsonl: 32 rows in parts of 10
    # a second run into the same directory is refused, and leaves it as it was
    assert run(src, out) == 2
    assert "--resume" in capsys.readouterr().err
    assert [r["id"] for r in read_parts(out)] == expected


def test_resume_redoes_only_the_missing_parts(inputs, tmp_path):
    src, expected, _ = inputs
    out = tmp_path / "out"
    assert run(src, out, "--part-size", "10") == 0
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    lost = sorted(kept)[1]  # as if the run had been killed before this part was written
    (out / lost).unlink()
    del kept[lost]
    assert run(src, out, "--part-size", "10", "--resume") == 0
    assert [r["id"] for r in read_parts(out)] == expected
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet") if p.name != lost} == kept  # not redone
    # another part size is another run: refused
    assert run(src, out, "--part-size", "7", "--resume") == 2


def test_bad_arguments_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    assert main([str(tmp_path), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such file" in err[0] and "no .txt" in err[1]
