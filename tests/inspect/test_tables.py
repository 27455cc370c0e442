"""What a version records about its tables and arrays, and reading tables batch by batch."""

from __future__ import annotations

import base64
from pathlib import Path

import pyarrow as pa
import pytest

from dvlin.inspect.batches import UnreadableTable, iter_batches, read_schema
from dvlin.inspect.tables import describe, is_described, table_format
from tests.policy.conftest import write_table

FORMATS = ["parquet", "csv", "jsonl", "arrow"]
COLUMNS = {"id": [1, 2, 3], "name": ["a", "b", None]}


def test_formats_come_from_the_suffix() -> None:
    assert table_format("x/a.PARQUET") == "parquet" and table_format("a.pq") == "parquet"
    assert table_format("a.feather") == "arrow" and table_format("a.ndjson") == "json"
    assert table_format("a.txt") is None and table_format("csv") is None
    assert is_described("v.npy") and is_described("t.csv") and not is_described("notes.md")


@pytest.mark.parametrize("fmt", FORMATS)
def test_describe_records_rows_columns_and_the_arrow_schema(tmp_path: Path, fmt: str) -> None:
    path = write_table(tmp_path / "t", COLUMNS, fmt)
    d = describe(str(path), path.name)
    assert d is not None and d["format"] == ("json" if fmt == "jsonl" else fmt)
    assert d["rows"] == 3
    assert [c["name"] for c in d["columns"]] == ["id", "name"]
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(d["arrow_schema"])))
    assert schema.names == ["id", "name"] and pa.types.is_integer(schema.field("id").type)


def test_an_unreadable_table_is_described_by_its_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    d = describe(str(bad), "bad.parquet")
    assert d is not None and d["format"] == "parquet" and d["error"]
    assert describe(str(bad), "notes.md") is None


def test_npy_headers_are_read_without_numpy(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    np.save(tmp_path / "v.npy", np.zeros((5, 3), dtype="float32"))
    d = describe(str(tmp_path / "v.npy"), "v.npy")
    assert d == {"format": "npy", "dtype": "<f4", "shape": [5, 3], "fortran_order": False}
    (tmp_path / "x.npy").write_bytes(b"nope")
    assert describe(str(tmp_path / "x.npy"), "x.npy") == {
        "format": "npy",
        "error": "not a .npy file",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_batches_cover_every_row_and_nulls_stay_null(tmp_path: Path, fmt: str) -> None:
    path = write_table(tmp_path / "t", COLUMNS, fmt)
    fmt = table_format(path.name) or ""
    table = pa.Table.from_batches(list(iter_batches(str(path), fmt)))
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("name").to_pylist() == ["a", "b", None]
    assert read_schema(str(path), fmt).names == ["id", "name"]


def test_big_tables_come_in_bounded_batches(tmp_path: Path) -> None:
    path = write_table(tmp_path / "t", {"id": list(range(10_000))}, "parquet")
    sizes = [b.num_rows for b in iter_batches(str(path), "parquet", batch_rows=4096)]
    assert sum(sizes) == 10_000 and max(sizes) <= 4096


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv"])
def test_bad_bytes_are_an_unreadable_table(tmp_path: Path, fmt: str) -> None:
    bad = tmp_path / f"bad.{fmt}"
    bad.write_bytes(b"\x00\x01 definitely not a table \xff" * 3)
    with pytest.raises(UnreadableTable, match=f"cannot read {fmt} file"):
        read_schema(str(bad), fmt)
    with pytest.raises(UnreadableTable, match=f"cannot read {fmt} file"):
        list(iter_batches(str(bad), fmt))
