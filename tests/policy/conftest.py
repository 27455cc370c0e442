"""Helpers for policy tests: write tables in every format, write dvlin.toml."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

FORMATS = ["parquet", "csv", "jsonl"]


def write_table(path: Path, columns: dict[str, list[Any]], fmt: str = "parquet") -> Path:
    """Write ``columns`` as a table file ``path.<fmt>``; returns the file."""
    table = pa.table(columns)
    target = path.with_suffix("." + fmt)
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, target)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, target)
    elif fmt == "jsonl":
        with target.open("w") as f:
            for row in table.to_pylist():
                f.write(json.dumps({k: v for k, v in row.items()}, default=str) + "\n")
    elif fmt == "arrow":
        import pyarrow.feather as feather

        feather.write_feather(table, target)
    return target


def write_policy(root: Path, text: str) -> None:
    """Write ``root/dvlin.toml``."""
    (root / "dvlin.toml").write_text(text, encoding="utf-8")
