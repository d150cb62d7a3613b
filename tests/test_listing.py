"""attention_ref_site.listing: source shown on the pages, laid out to fit the text column."""

from __future__ import annotations

import pytest

from attention_ref_site import listing


def test_short_lines_are_unchanged():
    source = "def f(x):\n    return x + 1  # one more\n"
    assert listing.fit(source.rstrip("\n"), 80) == source.rstrip("\n")


def test_a_long_trailing_comment_moves_above_its_line():
    source = "def f(x):\n    y = x + 1  # " + "word " * 20 + "\n    return y"
    out = listing.fit(source, 40)
    lines = out.splitlines()
    assert max(map(len, lines)) <= 40
    assert lines[0] == "def f(x):" and lines[-2:] == ["    y = x + 1", "    return y"]
    comment = lines[1:-2]
    assert all(line.startswith("    # ") for line in comment)
    assert " ".join(line[6:] for line in comment).split() == ["word"] * 20


def test_a_long_comment_line_is_rewrapped():
    out = listing.fit("x = 1\n# " + "a " * 30, 20)
    assert out.splitlines()[0] == "x = 1"
    assert all(len(line) <= 20 and line.startswith("# ") for line in out.splitlines()[1:])


def test_a_hash_inside_a_string_is_not_a_comment():
    line = 'print("# not a comment, and this string is long enough to overflow")'
    with pytest.raises(ValueError, match=f"line of {len(line)} characters"):
        listing.fit(line, 40)


def test_long_code_is_an_error_not_cut():
    with pytest.raises(ValueError, match=r"\(> 20\)"):
        listing.fit("value = some_function(argument_one, argument_two)", 20)


def test_source_of_the_training_listings_fits():
    from attention_ref_site.training import heads, recall, translation

    for obj in (heads.backward, translation.forward, translation.backward, recall.backward_rnn):
        text = listing.source(obj)
        assert max(len(line) for line in text.splitlines()) <= listing.WIDTH, obj.__name__
