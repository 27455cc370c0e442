"""The keyed row diff against a brute-force comparison of Python dicts."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.errors import UsageError
from dvlin.inspect.rowdiff import diff_tables
from dvlin.inspect.rowfiles import diff_files

_values = st.one_of(st.none(), st.integers(-3, 3))
_floats = st.one_of(st.none(), st.sampled_from([0.0, 1.5, -2.0, math.nan]))
_text = st.one_of(st.none(), st.sampled_from(["a", "b", "<script>"]))


@st.composite
def _table(draw: st.DrawFn) -> dict[int, tuple]:
    keys = draw(st.lists(st.integers(0, 40), unique=True, max_size=30))
    return {k: (draw(_values), draw(_floats), draw(_text)) for k in keys}


def _arrow(rows: dict[int, tuple]) -> pa.Table:
    keys = list(rows)
    return pa.table(
        {
            "id": pa.array(keys, pa.int64()),
            "n": pa.array([rows[k][0] for k in keys], pa.int64()),
            "f": pa.array([rows[k][1] for k in keys], pa.float64()),
            "s": pa.array([rows[k][2] for k in keys], pa.string()),
        }
    )


def _same(x: object, y: object) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return x == y and (x is None) == (y is None)


def _brute(a: dict[int, tuple], b: dict[int, tuple]) -> tuple[int, int, int, dict[str, int]]:
    added = len(set(b) - set(a))
    removed = len(set(a) - set(b))
    per = {"n": 0, "f": 0, "s": 0}
    changed = 0
    for k in set(a) & set(b):
        diffs = [not _same(x, y) for x, y in zip(a[k], b[k], strict=True)]
        for name, d in zip(("n", "f", "s"), diffs, strict=True):
            per[name] += d
        changed += any(diffs)
    return added, removed, changed, per


@settings(max_examples=80, deadline=None)
@given(_table(), _table())
def test_keyed_diff_equals_brute_force(a: dict[int, tuple], b: dict[int, tuple]) -> None:
    d = diff_tables(_arrow(a), _arrow(b), ["id"])
    added, removed, changed, per = _brute(a, b)
    assert (d.added, d.removed, d.changed) == (added, removed, changed)
    assert d.column_changes == per
    assert d.rows == (len(a), len(b)) and d.unchanged == len(a) - removed - changed
    assert d.samples["added"] == sorted(set(b) - set(a))[:5]
    assert d.samples["removed"] == sorted(set(a) - set(b))[:5]
    assert [s["key"] for s in d.samples["changed"]] == sorted(
        k for k in set(a) & set(b) if any(not _same(x, y) for x, y in zip(a[k], b[k], strict=True))
    )[:5]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_table(), _table())
def test_partitioned_diff_equals_the_in_memory_one(
    tmp_path: Path, a: dict[int, tuple], b: dict[int, tuple]
) -> None:
    pq.write_table(_arrow(a), tmp_path / "a.parquet", row_group_size=7)
    pq.write_table(_arrow(b), tmp_path / "b.parquet", row_group_size=7)
    src_a, src_b = (
        (str(tmp_path / "a.parquet"), "parquet"),
        (str(tmp_path / "b.parquet"), "parquet"),
    )
    whole = diff_files(src_a, src_b, ["id"])
    parts = diff_files(src_a, src_b, ["id"], max_rows=10)
    assert whole.partitions == 1
    assert parts.partitions > 1 or len(a) + len(b) <= 10
    assert whole.to_dict() | {"partitions": 0} == parts.to_dict() | {"partitions": 0}


def test_composite_keys_and_samples_of_changes() -> None:
    a = pa.table({"k1": [1, 1, 2], "k2": ["x", "y", "x"], "v": [1, 2, 3]})
    b = pa.table({"k1": [1, 1, 3], "k2": ["x", "y", "x"], "v": [1, 5, 3]})
    d = diff_tables(a, b, ["k1", "k2"])
    assert (d.added, d.removed, d.changed) == (1, 1, 1)
    assert d.samples["changed"] == [{"key": {"k1": 1, "k2": "y"}, "changes": {"v": [2, 5]}}]
    assert d.samples["added"] == [{"k1": 3, "k2": "x"}]


def test_a_key_that_is_not_unique_or_missing_is_a_usage_error() -> None:
    a = pa.table({"id": [1, 1, 2], "v": [1, 2, 3]})
    b = pa.table({"id": [1, 2], "v": [1, 2]})
    with pytest.raises(UsageError, match=r"not unique in a \(e\.g\. \{'id': 1\}\)"):
        diff_tables(a, b, ["id"])
    with pytest.raises(UsageError, match="key column 'nope' is not in a"):
        diff_tables(a, b, ["nope"])
    with pytest.raises(UsageError, match="null values"):
        diff_tables(pa.table({"id": [1, None]}), b, ["id"])


def test_retyped_and_nested_columns() -> None:
    a = pa.table({"id": [1, 2], "v": pa.array([1, 2], pa.int32()), "l": [[1], [2]]})
    b = pa.table({"id": [1, 2], "v": pa.array([1, 3], pa.int64()), "l": [[1], [3]]})
    d = diff_tables(a, b, ["id"])
    assert d.column_changes == {"v": 1} and d.not_compared == ("l",)


def test_a_byte_budget_partitions_wide_tables(tmp_path: Path) -> None:
    text = [f"{i:04d}" * 50 for i in range(2000)]  # distinct: no dictionary page shrinks them
    a = pa.table({"id": list(range(2000)), "text": text})
    b = a.set_column(1, "text", pa.array(["changed"] * 10 + text[10:]))
    pq.write_table(a, tmp_path / "a.parquet")
    pq.write_table(b, tmp_path / "b.parquet")
    src_a, src_b = (
        (str(tmp_path / "a.parquet"), "parquet"),
        (str(tmp_path / "b.parquet"), "parquet"),
    )
    d = diff_files(src_a, src_b, ["id"], max_bytes=200_000)
    assert d.partitions > 1 and d.changed == 10 and d.samples["changed"][0]["key"] == 0


def test_partitioned_diff_reports_a_missing_or_null_key(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2, 3], "v": [1, 2, 3]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [1, None, 3], "v": [1, 2, 3]}), tmp_path / "b.parquet")
    src_a, src_b = (
        (str(tmp_path / "a.parquet"), "parquet"),
        (str(tmp_path / "b.parquet"), "parquet"),
    )
    with pytest.raises(UsageError, match="key column 'nope' is not in x"):
        diff_files(src_a, src_b, ["nope"], max_rows=2, label_a="x")
    with pytest.raises(UsageError, match="null values in y"):
        diff_files(src_a, src_b, ["id"], max_rows=2, label_b="y")
