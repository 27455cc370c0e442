"""The compact columns of ``objects.arrays`` against plain Python lists."""

from __future__ import annotations

from array import array

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.objects.arrays import Int64s, Strings, UInt64s

# Hostile paths and odd names: control characters, NUL, separators, non-ASCII, empty, long.
TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["", "a/b", "ünï/é", "tab\tx", "new\nline", "nul\0x", "日本/語", "z" * 300]),
)
VALUES = st.lists(TEXT, max_size=40)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_strings_hold_what_a_list_holds(values: list[str]) -> None:
    col = Strings(values)
    assert len(col) == len(values)
    assert list(col) == values
    assert [col[i] for i in range(len(values))] == values
    assert [col[-i] for i in range(1, len(values) + 1)] == [
        values[-i] for i in range(1, len(values) + 1)
    ]
    assert col[1:3] == values[1:3]
    assert col == values and col == Strings(values)
    # The stat cache's fingerprint hashed this exact byte string when paths were a list.
    assert col.joined() == "\0".join(values).encode("utf-8", "surrogateescape")
    got = pa.array(col, pa.string())
    assert got.type == pa.string() and got.equals(pa.array(values, pa.string()))
    assert pa.array(col).equals(pa.array(values, pa.string()))
    assert pa.array(col, pa.large_string()).to_pylist() == values


@settings(max_examples=100, deadline=None)
@given(VALUES, VALUES)
def test_a_raw_column_appended_gives_the_concatenation(first: list[str], second: list[str]) -> None:
    col = Strings(first)
    data, starts = Strings(second).raw()
    col.extend_raw(data, array("q", starts))
    assert list(col) == first + second
    assert pa.array(col).to_pylist() == first + second


def test_a_string_that_is_not_utf8_is_refused() -> None:
    col = Strings(["a"])
    with pytest.raises(UnicodeEncodeError):
        col.append("bad\udcff")
    assert list(col) == ["a"]


def test_out_of_range_is_an_index_error() -> None:
    col = Strings(["a"])
    with pytest.raises(IndexError):
        col[1]
    with pytest.raises(IndexError):
        col[-2]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=30))
def test_int64s_give_arrow_their_values(values: list[int]) -> None:
    assert pa.array(Int64s(values)).to_pylist() == values
    unsigned = [v + 2**63 for v in values]
    assert pa.array(UInt64s(unsigned)).to_pylist() == unsigned
