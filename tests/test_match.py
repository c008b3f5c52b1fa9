"""Source matching: the right article is found among others, sentences are aligned, and the
commands give one-line errors. Every text here is written for these tests."""
import json

import numpy as np
import pytest

from conftest import ARTICLE
from model.match import OLD_COLLECTIONS, Matcher, paragraphs
from model.match_cli import main

OTHERS = {
    "budget": (
        "The regional government unveiled a budget on Monday that raises spending on hospitals by 6 percent. "
        "The finance minister said the deficit would narrow to 2.1 percent of output next year.\n\n"
        "Opposition leaders called the plan unrealistic and said tax receipts were falling."
    ),
    "storm": (
        "A late spring storm knocked out power to 30,000 homes across the northern valleys on Sunday night. "
        "Crews worked through the morning to clear fallen trees from the main road.\n\n"
        "The weather service said more rain would arrive by Thursday."
    ),
    "football": (
        "Riverside United came from two goals down to draw 2-2 with Castle Rovers on Saturday. "
        "The equaliser came in the last minute from a corner.\n\n"
        "The draw leaves Riverside third in the table, four points behind the leaders."
    ),
}
# A rewrite of ARTICLE: one sentence kept, three reworded, one added, the last dropped.
REWRITE = (
    "Port Ellery's council decided on Tuesday that the ferry pier will remain open all winter. "
    "Councillor Maria Okafor said more than 400 people a day used the boat. "
    "According to the harbour authority, two of the wooden piles had begun to rot.\n\n"
    "The work should cost roughly $1.2 million. "
    "Local fishermen have long complained about the state of the harbour walls."
)


@pytest.fixture(scope="module")
def matcher():
    m = Matcher.open(":memory:")
    m.add([ARTICLE, *OTHERS.values()], ["pier", *OTHERS])
    return m


def test_paragraphs_cover_the_text_and_join_short_ones():
    spans = paragraphs(ARTICLE)
    assert len(spans) == 1  # two short paragraphs (< 40 words each) make one passage
    assert ARTICLE[spans[0][0]:spans[0][1]] == ARTICLE.strip()


def test_a_text_embeds_the_same_alone_or_batched_with_texts_of_other_lengths(matcher):
    texts = [REWRITE, "Storm.", *OTHERS.values(), ARTICLE]
    together = matcher.embedder.embed(texts)
    alone = np.stack([matcher.embedder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_the_rewrite_is_matched_to_its_article_and_aligned(matcher):
    m = matcher.match([REWRITE])[0]
    assert m.source_id == "pier" and m.candidates[0][0] == "pier"
    assert m.score >= matcher.threshold > m.candidates[1][1]
    status = {REWRITE[a.start:a.end].split()[0]: a.status for a in m.sentences}
    assert status["Councillor"] == "kept"
    assert status["Port"] == status["According"] == "reworded"
    assert status["Local"] == "added"
    assert [ARTICLE[a:b] for a, b in m.dropped] == ["Two councillors voted against the motion, saying the town could not afford it."]


def test_an_unrelated_article_is_not_reported(matcher):
    text = ("The museum will reopen its east wing in May after a two-year restoration of the ceiling frescoes. "
            "Visitors will need to book tickets online.")
    m = matcher.match([text])[0]
    assert m.source_id is None and m.sentences == [] and m.score < matcher.threshold


def test_index_and_match_commands(tmp_path, capsys):
    src = tmp_path / "originals"
    src.mkdir()
    (src / "pier.txt").write_text(ARTICLE)
    for name, text in OTHERS.items():
        (src / f"{name}.txt").write_text(text)
    (src / "empty.txt").write_text(" ")
    db = tmp_path / "index"
    assert main(["index", str(src), "--db", str(db)]) == 2  # the empty file is reported, the rest indexed
    err = capsys.readouterr().err
    assert "empty.txt: empty" in err and "indexed 4 articles" in err
    suspect = tmp_path / "suspect.txt"
    suspect.write_text(REWRITE)
    html = tmp_path / "match.html"
    assert main(["match", str(suspect), "--db", str(db), "--json", "--html", str(html)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source_id"].endswith("pier.txt") and out["label"] in ("original", "machine-translated", "ai-rewritten", "uncertain")
    assert {s["status"] for s in out["sentences"]} == {"kept", "reworded", "added"}
    assert "Local fishermen" in html.read_text() and 'class="added"' in html.read_text()


def test_match_errors_are_one_line(tmp_path, capsys):
    from qdrant_client import QdrantClient, models

    suspect = tmp_path / "suspect.txt"
    suspect.write_text(REWRITE)
    old = QdrantClient(path=str(tmp_path / "old"))  # an index of an earlier telltale, other vectors
    old.create_collection(OLD_COLLECTIONS[0], vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE))
    old.close()
    assert main(["match", str(suspect), "--db", str(tmp_path / "nowhere")]) == 2
    assert main(["match", str(tmp_path / "missing.txt"), "--db", str(tmp_path)]) == 2
    assert main(["match", str(suspect), "--db", str(tmp_path / "old")]) == 2
    assert main(["index", str(suspect), "--db", str(tmp_path / "old")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and "no index there" in err[0] and "no such file" in err[1]
    assert all("built by an older telltale" in line for line in err[2:])
