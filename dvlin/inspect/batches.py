"""Stream the record batches of a table file (Parquet, Arrow/Feather, CSV, JSON lines).

Checks read tables through here so memory stays bounded by one batch, whatever the size of
the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 64 * 1024


class UnreadableTable(Exception):
    """A table file that pyarrow cannot read: corrupt, truncated or not the format its name says."""


def iter_batches(
    abs_path: str, fmt: str, *, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """Yield the record batches of a table file; raise :class:`UnreadableTable` on bad bytes."""
    import pyarrow as pa

    try:
        yield from _iter(abs_path, fmt, batch_rows)
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnreadableTable(f"cannot read {fmt} file: {first[:200]}") from None


def _iter(abs_path: str, fmt: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(abs_path) as f:
            yield from f.iter_batches(batch_size=batch_rows)
        return
    if fmt == "arrow":
        with pa.memory_map(abs_path) as source:
            try:
                reader = pa.ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)
                return
            except pa.ArrowInvalid:
                source.seek(0)
            yield from pa.ipc.open_stream(source)
        return
    if fmt == "csv":
        import pyarrow.csv as pacsv

        options = pacsv.ReadOptions(block_size=16 << 20)
        # An empty cell is a null, in string columns too: what a contract means by "missing".
        convert = pacsv.ConvertOptions(strings_can_be_null=True)
        yield from pacsv.open_csv(abs_path, read_options=options, convert_options=convert)
        return
    import pyarrow.json as pajson

    if hasattr(pajson, "open_json"):
        yield from pajson.open_json(abs_path)
    else:  # pyarrow < 19 has no streaming JSON reader
        yield from pajson.read_json(abs_path).to_batches(max_chunksize=batch_rows)


def read_schema(abs_path: str, fmt: str) -> pa.Schema:
    """The Arrow schema of a table file (Parquet and Arrow without reading the data)."""
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_schema(abs_path)
        if fmt == "arrow":
            with pa.memory_map(abs_path) as source:
                try:
                    return pa.ipc.open_file(source).schema
                except pa.ArrowInvalid:
                    source.seek(0)
                    return pa.ipc.open_stream(source).schema
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableTable(f"cannot read {fmt} file: {str(exc).splitlines()[0][:200]}") from None
    schema = None
    for batch in iter_batches(abs_path, fmt):
        schema = batch.schema
        break
    if schema is None:
        raise UnreadableTable(f"cannot read {fmt} file: no data")
    return schema
