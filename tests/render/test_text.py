"""User text on a terminal: git-style quoting, and counted nouns."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from dvlin.render.output import Output
from dvlin.render.text import plural, quote


def test_plain_text_is_unchanged() -> None:
    assert quote("data/events.parquet") == "data/events.parquet"
    assert quote("a b — ünïcode") == "a b — ünïcode"
    assert quote('say "hi"') == 'say "hi"'
    assert quote("") == ""


def test_control_characters_are_c_quoted_like_git() -> None:
    assert quote("a\x1b[31mb") == '"a\\033[31mb"'
    assert quote("two\nlines") == '"two\\nlines"'
    assert quote("tab\there") == '"tab\\there"'
    assert quote('bell\a "q" \\') == '"bell\\a \\"q\\" \\\\"'
    assert quote("del\x7f") == '"del\\177"'
    assert quote("c1\x9b") == '"c1\\302\\233"'  # UTF-8 bytes in octal, as git writes them


def test_bytes_that_are_not_utf8_come_back_as_octal() -> None:
    name = b"bad\xff.csv".decode("utf-8", "surrogateescape")
    assert quote(name) == '"bad\\377.csv"'


def test_without_marks_only_the_escapes_are_added() -> None:
    assert quote("cannot read d/a\nb: denied", marks=False) == "cannot read d/a\\nb: denied"
    assert quote("plain", marks=False) == "plain"


@given(st.text())
def test_quoted_text_is_one_printable_line(text: str) -> None:
    for marks in (True, False):
        out = quote(text, marks=marks)
        assert out.isprintable()
        assert "\n" not in out and "\x1b" not in out


def test_plural() -> None:
    assert plural(0, "file") == "0 files"
    assert plural(1, "file") == "1 file"
    assert plural(2, "version") == "2 versions"
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(1234, "entry", "entries") == "1,234 entries"


def test_output_line_never_passes_a_control_character() -> None:
    buf = io.StringIO()
    Output(stdout=buf).line("raw \x1b[2J name")
    assert buf.getvalue() == "raw \\033[2J name\n"
