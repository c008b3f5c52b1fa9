from model.text import encode_document, split_sentences, window_starts


def sentences(text):
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_keeps_abbreviations_quotes_and_paragraphs():
    text = 'Mr. Smith met U.S. officials. He said "No!" Then he left at 5 p.m. on Friday.\n\nNew paragraph without stop\n\nLast one.'
    assert sentences(text) == ['Mr. Smith met U.S. officials.', 'He said "No!"', "Then he left at 5 p.m. on Friday.",
                               "New paragraph without stop", "Last one."]


def test_split_offsets_trim_whitespace_and_handle_empty():
    assert split_sentences("   \n\n  ") == []
    text = "  One sentence here.   Another one.  "
    assert [text[s:e] for s, e in split_sentences(text)] == ["One sentence here.", "Another one."]


def test_windows_cover_every_token_with_overlap():
    for n in (1, 10, 254, 255, 600, 1001):
        starts = window_starts(n, 254, 192)
        covered = set()
        for s in starts:
            covered.update(range(s, min(s + 254, n)))
        assert covered == set(range(n))
        assert all(b - a <= 192 for a, b in zip(starts, starts[1:]))


def test_windows_a_window_apart_with_a_short_last_one_tile_the_text_and_read_each_token_once():
    assert window_starts(650, 254, 254) == [0, 254, 396]  # the last window full, running back
    assert window_starts(650, 254, 254, short_last_window=True) == [0, 254, 508]  # the 142 tokens left
    assert window_starts(520, 254, 254, short_last_window=True) == [0, 254, 457]  # 12 left: a quarter window
    for n in (1, 254, 255, 600, 1001):
        starts = window_starts(n, 254, 254, short_last_window=True)
        read = [t for s in starts for t in range(s, min(s + 254, n))]
        assert set(read) == set(range(n))
        assert len(read) - n < 254 // 4  # read twice: only what a short last window runs back over


def test_encode_document_covers_long_text_and_maps_sentences(tokenizer):
    text = " ".join(f"Sentence number {i} talks about the harbour." for i in range(200))
    spans = split_sentences(text)
    windows = encode_document(tokenizer, text, spans, max_length=64, stride=48)
    assert len(windows) > 10
    assert all(len(w.input_ids) <= 64 for w in windows)
    seen = {s for w in windows for s in w.sentence_ids if s >= 0}
    assert seen == set(range(len(spans)))  # the last sentence is reached: nothing truncated
    w = windows[-1]
    present, local = w.local_sentences()
    assert len(local) == len(w.input_ids) and local[0] == -1 and local[-1] == -1
    assert max(local) == len(present) - 1
