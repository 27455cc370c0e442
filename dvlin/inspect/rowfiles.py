"""Row-level diff of two tables by key, each one file or several (part files), within a
memory budget.

Two tables that fit the row budget are joined in memory. Larger ones are range-partitioned on
the first key column (boundaries from a sample of both sides), each partition spilled to a
temporary Arrow IPC file, and the partitions joined one pair at a time: equal keys always land in
the same partition, so memory stays bounded by one partition pair whatever the table size.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from dvlin.errors import UsageError
from dvlin.inspect.rowdiff import RowDiff, diff_tables, merge

MAX_ROWS_IN_MEMORY = 8_000_000
"""Rows of both sides together joined at once; beyond, the tables are partitioned."""
MAX_BYTES_IN_MEMORY = 512 << 20
"""Arrow bytes of both sides together joined at once (a join needs ~3× its inputs)."""


Source = tuple[str, str]
"""A table file: ``(absolute path, format)``."""


class _Side:
    """One side of a keyed diff: its files, read as one table with one (unified) schema."""

    def __init__(self, sources: Source | Sequence[Source], label: str) -> None:
        import pyarrow as pa

        from dvlin.inspect.batches import read_schema

        if isinstance(sources, tuple) and len(sources) == 2 and isinstance(sources[0], str):
            sources = [sources]
        self.sources: list[Source] = list(sources)
        self.label = label
        schemas = [read_schema(path, fmt) for path, fmt in self.sources]
        try:
            self.schema = pa.unify_schemas(schemas, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise UsageError(
                f"the table files of {label} do not share one schema: {str(exc)[:160]}",
                hint="diff one file at a time with --path",
            ) from None

    def check_key(self, keys: Sequence[str]) -> None:
        missing = [k for k in keys if k not in self.schema.names]
        if missing:
            raise UsageError(
                f"key column {missing[0]!r} is not in {self.label}",
                hint=f"columns there: {', '.join(self.schema.names[:12])}",
            )

    def size(self) -> tuple[int, int]:
        """Rows and (estimated) in-memory bytes."""
        import pyarrow.parquet as pq

        rows = size = 0
        for path, fmt in self.sources:
            if fmt == "parquet":
                meta = pq.ParquetFile(path).metadata
                rows += meta.num_rows
                size += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
                continue
            for b in self.batches([(path, fmt)]):
                rows += b.num_rows
                size += b.nbytes
        return rows, size

    def batches(self, sources: Sequence[Source] | None = None) -> Iterator[Any]:
        """Every record batch, conformed to the side's schema (missing columns as nulls)."""
        import pyarrow as pa

        from dvlin.inspect.batches import iter_batches

        for path, fmt in sources if sources is not None else self.sources:
            for batch in iter_batches(path, fmt):
                if batch.schema == self.schema:
                    yield batch
                    continue
                columns = [
                    batch.column(f.name).cast(f.type)
                    if f.name in batch.schema.names
                    else pa.nulls(batch.num_rows, f.type)
                    for f in self.schema
                ]
                yield pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def read(self) -> Any:
        import pyarrow as pa

        return pa.Table.from_batches(list(self.batches()), schema=self.schema)


def diff_files(
    a: Source | Sequence[Source],
    b: Source | Sequence[Source],
    keys: Sequence[str],
    *,
    label_a: str = "a",
    label_b: str = "b",
    max_rows: int = MAX_ROWS_IN_MEMORY,
    max_bytes: int = MAX_BYTES_IN_MEMORY,
) -> RowDiff:
    """Diff two tables (each a file ``(abs_path, format)`` or a list of part files) by
    ``keys``, partitioning when both together hold more than ``max_rows`` rows or
    ``max_bytes`` of Arrow data."""
    from dvlin.inspect.batches import UnreadableTable

    try:
        side_a, side_b = _Side(a, label_a), _Side(b, label_b)
        side_a.check_key(keys)
        side_b.check_key(keys)
        (rows_a, bytes_a), (rows_b, bytes_b) = side_a.size(), side_b.size()
        parts = max(
            math.ceil((rows_a + rows_b) / max_rows), math.ceil((bytes_a + bytes_b) / max_bytes)
        )
        if parts <= 1:
            return diff_tables(side_a.read(), side_b.read(), keys, label_a=label_a, label_b=label_b)
        return _partitioned(side_a, side_b, keys, parts)
    except UnreadableTable as exc:
        raise UsageError(f"cannot diff rows: {exc}", hint="check the file") from None


def _boundaries(sides: Sequence[_Side], key: str, parts: int) -> list[Any]:
    """Range boundaries splitting the first key column into ``parts`` similar parts (from a
    sample of 256 keys per batch of both sides)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    picked = []
    for side in sides:
        for batch in side.batches():
            col = batch.column(key)
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


def _spill(side: _Side, key: str, bounds: list[Any], folder: str, name: str) -> list[str]:
    """Write the rows of ``side`` into one Arrow stream file per key range."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    bound_type = pa.array(bounds).type if bounds else None
    paths = [os.path.join(folder, f"{name}{i}.arrow") for i in range(len(bounds) + 1)]
    writers = [pa.ipc.new_stream(p, side.schema) for p in paths]
    try:
        for batch in side.batches():
            col = batch.column(key)
            if col.null_count:
                raise UsageError(
                    f"key column {key!r} has null values in {side.label}",
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
    return paths


def _read_spilled(path: str, schema: Any) -> Any:
    import pyarrow as pa

    with pa.OSFile(path, "rb") as f:
        return pa.ipc.open_stream(f).read_all() if os.path.getsize(path) else schema.empty_table()


def _partitioned(side_a: _Side, side_b: _Side, keys: Sequence[str], parts: int) -> RowDiff:
    bounds = _boundaries((side_a, side_b), keys[0], parts)
    results = []
    with tempfile.TemporaryDirectory(prefix="dvlin-rowdiff-") as folder:
        paths_a = _spill(side_a, keys[0], bounds, folder, "a")
        paths_b = _spill(side_b, keys[0], bounds, folder, "b")
        for path_a, path_b in zip(paths_a, paths_b, strict=True):
            ta, tb = _read_spilled(path_a, side_a.schema), _read_spilled(path_b, side_b.schema)
            results.append(diff_tables(ta, tb, keys, label_a=side_a.label, label_b=side_b.label))
            os.unlink(path_a)
            os.unlink(path_b)
    return merge(results, keys)
