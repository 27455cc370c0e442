"""Text of `dvlin stats` and `dvlin diff`: numbers compact, user text quoted, never markup."""

from __future__ import annotations

from dvlin.inspect.rowdiff import RowDiff
from dvlin.render.inspect import count, row_lines, shown


def test_control_characters_are_quoted_and_markup_kept_verbatim() -> None:
    assert shown("plain [b]name[/b]") == "plain [b]name[/b]"
    assert shown("evil\nname") == '"evil\\nname"'
    assert shown('tab\t"q"') == '"tab\\t\\"q\\""'


def test_counts_are_compact() -> None:
    assert (count(999), count(12_345), count(1_310_000), count(None)) == (
        "999",
        "12.3k",
        "1.31M",
        "—",
    )


def test_row_lines_show_counts_columns_and_samples() -> None:
    r = RowDiff(
        ("id",),
        (10, 11),
        2,
        1,
        1,
        {"amount": 1, "country": 0},
        (),
        {"added": [11, 12], "removed": [3], "changed": [{"key": 5, "changes": {"amount": [1, 2]}}]},
    )
    assert list(row_lines("e.parquet", r)) == [
        "rows of e.parquet by id: +2 −1 ~1",
        "  changed columns: amount 1",
        "  + 11",
        "  + 12",
        "  − 3",
        "  ~ 5: amount: 1 → 2",
    ]
