from model.normalize import normalize


def test_homoglyphs_and_invisible_characters_are_undone_and_reported():
    text = "The p\u0430ypal\u200b scam \ufb01nally ended in Москва."
    n = normalize(text)
    assert n.text == "The paypal scam finally ended in Москва."  # a whole Cyrillic word is left alone
    assert [(text[s:e], what) for s, e, what in n.findings] == [("\u0430", "homoglyph"), ("\u200b", "invisible character")]


def test_offsets_point_into_the_original_text():
    text = "A z\u200be\u200br\u200bo-width \ufb01x."
    n = normalize(text)
    start = n.text.index("zero")
    s, e = n.span(start, start + 4)
    assert text[s:e] == "z\u200be\u200br\u200bo"
    start = n.text.index("fix")
    s, e = n.span(start, start + 3)
    assert text[s:e] == "\ufb01x"


def test_plain_text_is_unchanged():
    text = "Plain English, naïve café: 42%."
    n = normalize(text)
    assert n.text == text and n.findings == [] and n.origin == list(range(len(text) + 1))


def test_a_lone_lookalike_word_among_latin_words_is_mapped():
    text = "She bought \u0430 boat. \u041d\u0435 sailed it to \u041c\u043e\u0441\u043a\u0432\u0430 \u0438 \u0430 \u0432\u043e\u0442."
    n = normalize(text)
    # the Cyrillic article and "He" sit between English words; the Russian words stay Russian
    assert n.text == "She bought a boat. He sailed it to \u041c\u043e\u0441\u043a\u0432\u0430 \u0438 \u0430 \u0432\u043e\u0442."
    assert [text[s:e] for s, e, what in n.findings] == ["\u0430", "\u041d", "\u0435"]


def test_odd_casing_takes_the_casing_the_text_uses_elsewhere():
    text = "The minister spoke. tHe MINISTER left, and the minister's aide stayed. NATO met NATO. JaBleh fell."
    n = normalize(text)
    # an acronym kept throughout and a one-off "JaBleh" (an MT artifact, not an evasion) stay as written
    assert n.text == "The minister spoke. The minister left, and the minister's aide stayed. NATO met NATO. JaBleh fell."
    assert [(text[s:e], what) for s, e, what in n.findings] == [("tHe", "odd casing"), ("MINISTER", "odd casing")]


def test_a_dateline_in_capitals_is_recased_without_an_artifact():
    text = "PORT ELLERY, May 3 - The Port Ellery council met."
    n = normalize(text)
    assert n.text == "Port Ellery, May 3 - The Port Ellery council met." and n.findings == []
