"""Integer columns held as arrays: 8 bytes a row where a list of Python ints costs 40.

A scan or a commit of a million files keeps several numbers per file (size, mtime, inode,
offset…); as lists of ints they cost about 100 MB a million rows more than as arrays. The
arrays hand themselves to Arrow through ``__arrow_array__`` from one copy of their bytes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    _IntArray = array[int]
else:
    _IntArray = array


class Int64s(_IntArray):
    """A column of signed 64-bit integers: 8 bytes a row where a list of ints costs 40.

    ``pa.array`` takes it through ``__arrow_array__``, from one copy of its bytes (iterating
    it item by item would cost 0.4 s a million rows).
    """

    __slots__ = ()
    TYPECODE = "q"

    def __new__(cls, values: Iterable[int] = ()) -> Int64s:
        return super().__new__(cls, cls.TYPECODE, values)

    def __arrow_array__(self, type: Any = None) -> pa.Array:  # noqa: A002 - the protocol's name
        """This column as an Arrow array (of ``type`` when given)."""
        import pyarrow as pa

        own = pa.int64() if self.TYPECODE == "q" else pa.uint64()
        values = pa.Array.from_buffers(own, len(self), [None, pa.py_buffer(self.tobytes())])
        return values if type is None or type == own else values.cast(type)


class UInt64s(Int64s):
    """A column of unsigned 64-bit integers (inode numbers)."""

    __slots__ = ()
    TYPECODE = "Q"
