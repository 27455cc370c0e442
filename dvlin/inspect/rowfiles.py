"""Row-level diff of two table files by key, within a memory budget.

Two tables that fit the row budget are joined in memory. Larger ones are range-partitioned on
the first key column (boundaries from a sample of both sides), each partition spilled to a
temporary Arrow IPC file, and the partitions joined one pair at a time: equal keys always land in
the same partition, so memory stays bounded by one partition pair whatever the table size.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from typing import Any

from dvlin.errors import UsageError
from dvlin.inspect.rowdiff import RowDiff, diff_tables, merge

MAX_ROWS_IN_MEMORY = 8_000_000
"""Rows of both sides together joined at once; beyond, the tables are partitioned."""
MAX_BYTES_IN_MEMORY = 512 << 20
"""Arrow bytes of both sides together joined at once (a join needs ~3× its inputs)."""


def _size_of(abs_path: str, fmt: str) -> tuple[int, int]:
    """Rows and (estimated) in-memory bytes of a table file."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(abs_path).metadata
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        return int(meta.num_rows), int(size)
    from dvlin.inspect.batches import iter_batches

    rows = size = 0
    for b in iter_batches(abs_path, fmt):
        rows += b.num_rows
        size += b.nbytes
    return rows, size


def _read(abs_path: str, fmt: str) -> Any:
    import pyarrow as pa

    from dvlin.inspect.batches import iter_batches, read_schema

    schema = read_schema(abs_path, fmt)
    return pa.Table.from_batches(list(iter_batches(abs_path, fmt)), schema=schema)


def diff_files(
    a: tuple[str, str],
    b: tuple[str, str],
    keys: Sequence[str],
    *,
    label_a: str = "a",
    label_b: str = "b",
    max_rows: int = MAX_ROWS_IN_MEMORY,
    max_bytes: int = MAX_BYTES_IN_MEMORY,
) -> RowDiff:
    """Diff two table files ``(abs_path, format)`` by ``keys``, partitioning when both
    together hold more than ``max_rows`` rows or ``max_bytes`` of Arrow data."""
    from dvlin.inspect.batches import UnreadableTable, read_schema

    try:
        for (path, fmt), label in ((a, label_a), (b, label_b)):
            names = read_schema(path, fmt).names
            missing = [k for k in keys if k not in names]
            if missing:
                raise UsageError(
                    f"key column {missing[0]!r} is not in {label}",
                    hint=f"columns there: {', '.join(names[:12])}",
                )
        (rows_a, bytes_a), (rows_b, bytes_b) = _size_of(*a), _size_of(*b)
        parts = max(
            math.ceil((rows_a + rows_b) / max_rows), math.ceil((bytes_a + bytes_b) / max_bytes)
        )
        if parts <= 1:
            return diff_tables(_read(*a), _read(*b), keys, label_a=label_a, label_b=label_b)
        return _partitioned(a, b, keys, parts, label_a, label_b)
    except UnreadableTable as exc:
        raise UsageError(f"cannot diff rows: {exc}", hint="check the file") from None


def _boundaries(sides: Sequence[tuple[str, str]], key: str, parts: int) -> list[Any]:
    """Range boundaries splitting the first key column into ``parts`` similar parts (from a
    sample of 256 keys per batch of both sides)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.inspect.batches import iter_batches

    picked = []
    for side in sides:
        for batch in iter_batches(*side):
            col = batch.column(batch.schema.get_field_index(key))
            step = max(1, len(col) // 256)
            picked.append(col.take(pa.array(range(0, len(col), step))))
    if not picked:
        return []
    if len({p.type for p in picked}) > 1:
        picked = [p.cast(picked[0].type) for p in picked]
    sample = pc.unique(pa.concat_arrays(picked).drop_null())
    sample = sample.take(pc.sort_indices(sample))
    n = len(sample)
    cuts = sorted({min(n - 1, (i * n) // parts) for i in range(1, parts)})
    return [sample[i].as_py() for i in cuts] if n else []


def _spill(
    src: tuple[str, str], key: str, bounds: list[Any], folder: str, side: str, label: str
) -> tuple[list[str], Any]:
    """Write the rows of ``src`` into one Arrow stream file per key range."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from dvlin.inspect.batches import iter_batches, read_schema

    schema = read_schema(*src)
    bound_type = pa.array(bounds).type if bounds else None
    paths = [os.path.join(folder, f"{side}{i}.arrow") for i in range(len(bounds) + 1)]
    writers = [pa.ipc.new_stream(p, schema) for p in paths]
    try:
        for batch in iter_batches(*src):
            col = batch.column(schema.get_field_index(key))
            if col.null_count:
                raise UsageError(
                    f"key column {key!r} has null values in {label}",
                    hint="choose key columns that are never null",
                )
            if bound_type is not None and col.type != bound_type:
                col = col.cast(bound_type)
            part = pa.array(np.zeros(len(col), dtype=np.int32))
            for bound in bounds:
                part = pc.add(part, pc.cast(pc.greater(col, bound), pa.int32()))
            for i, w in enumerate(writers):
                chunk = batch.filter(pc.equal(part, i))
                if chunk.num_rows:
                    w.write_batch(chunk)
    finally:
        for w in writers:
            w.close()
    return paths, schema


def _read_spilled(path: str, schema: Any) -> Any:
    import pyarrow as pa

    with pa.OSFile(path, "rb") as f:
        return pa.ipc.open_stream(f).read_all() if os.path.getsize(path) else schema.empty_table()


def _partitioned(
    a: tuple[str, str],
    b: tuple[str, str],
    keys: Sequence[str],
    parts: int,
    label_a: str,
    label_b: str,
) -> RowDiff:
    bounds = _boundaries((a, b), keys[0], parts)
    results = []
    with tempfile.TemporaryDirectory(prefix="dvlin-rowdiff-") as folder:
        pa_paths, sa = _spill(a, keys[0], bounds, folder, "a", label_a)
        pb_paths, sb = _spill(b, keys[0], bounds, folder, "b", label_b)
        for pa_path, pb_path in zip(pa_paths, pb_paths, strict=True):
            ta, tb = _read_spilled(pa_path, sa), _read_spilled(pb_path, sb)
            results.append(diff_tables(ta, tb, keys, label_a=label_a, label_b=label_b))
            os.unlink(pa_path)
            os.unlink(pb_path)
    return merge(results, keys)
