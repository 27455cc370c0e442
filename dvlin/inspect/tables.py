"""Record the Arrow schema and row count of tables, and dtype and shape of ``.npy`` arrays."""

from __future__ import annotations

import ast
import base64
from typing import Any

TABLE_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "arrow",
    ".arrow": "arrow",
    ".ipc": "arrow",
    ".csv": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
}


def table_format(path: str) -> str | None:
    """The table format a file name implies, if any."""
    _, dot, suffix = path.rpartition(".")
    return TABLE_SUFFIXES.get("." + suffix.lower()) if dot else None


def is_described(path: str) -> bool:
    """True for the files whose schema or shape a version records."""
    _, dot, suffix = path.rpartition(".")
    return bool(dot) and ("." + suffix.lower() in TABLE_SUFFIXES or suffix.lower() == "npy")


def describe(abs_path: str, path: str) -> dict[str, Any] | None:
    """Schema and row count of a table, or dtype and shape of an array; None if unreadable."""
    if path.lower().endswith(".npy"):
        return describe_npy(abs_path)
    fmt = table_format(path)
    if fmt is None:
        return None
    import pyarrow as pa

    try:
        schema, rows = _read_table_shape(abs_path, fmt)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return {"format": fmt, "error": str(exc).splitlines()[0][:200]}
    return {
        "format": fmt,
        "rows": rows,
        "columns": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "arrow_schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
    }


def _read_table_shape(abs_path: str, fmt: str):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(abs_path)
        return meta.schema_arrow, meta.metadata.num_rows
    if fmt == "arrow":
        import pyarrow.feather as feather

        table = feather.read_table(abs_path, memory_map=True)
        return table.schema, table.num_rows
    if fmt == "csv":
        import pyarrow.csv as pacsv

        reader = pacsv.open_csv(abs_path)
        rows = sum(batch.num_rows for batch in reader)
        return reader.schema, rows
    import pyarrow.json as pajson

    table = pajson.read_json(abs_path)
    del pa
    return table.schema, table.num_rows


def describe_npy(abs_path: str) -> dict[str, Any] | None:
    """Parse a ``.npy`` header (versions 1–3) without importing numpy."""
    try:
        with open(abs_path, "rb") as f:
            magic = f.read(8)
            if magic[:6] != b"\x93NUMPY":
                return {"format": "npy", "error": "not a .npy file"}
            major = magic[6]
            width = 2 if major == 1 else 4
            length = int.from_bytes(f.read(width), "little")
            header = ast.literal_eval(f.read(length).decode("latin1"))
        return {
            "format": "npy",
            "dtype": str(header["descr"]),
            "shape": list(header["shape"]),
            "fortran_order": bool(header["fortran_order"]),
        }
    except (OSError, ValueError, SyntaxError, KeyError, TypeError) as exc:
        return {"format": "npy", "error": str(exc)[:200]}
