"""The small helpers every column kernel uses (see :mod:`dvlin.objects.columns`)."""

from __future__ import annotations

from array import array
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dvlin.lean import numpy_blocked

TYPES = ("file", "dir", "link")


def _bools(n: int, value: bool) -> pa.Array:
    """``n`` times ``value`` as a boolean array (straight from a buffer: no NumPy, no loop)."""
    bits = pa.py_buffer((b"\xff" if value else b"\x00") * ((n + 7) // 8))
    return pa.Array.from_buffers(pa.bool_(), n, [None, bits])


def _indices(n: int) -> pa.Array:
    """``0 … n-1`` as an int64 array."""
    if numpy_blocked():
        return pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(array("q", range(n)))])
    import numpy as np

    return pa.array(np.arange(n, dtype=np.int64))


def strings(column: Any) -> pa.Array:
    """One string (or binary) array from a column, chunked or not, dictionary decoded."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    return column


def column(table: pa.Table, name: str) -> pa.Array:
    """A table's column as one array (dictionaries decoded)."""
    return strings(table.column(name))


def same(a: Any, b: Any) -> pa.Array:
    """Element-wise equality where two nulls are equal (Python's ``None == None``)."""
    eq = pc.fill_null(pc.equal(a, b), False)
    return pc.or_(eq, pc.and_(pc.is_null(a), pc.is_null(b)))


def first_true(mask: Any) -> int | None:
    """Index of the first true value of a boolean array (nulls count as false), or None."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, True).as_py())
