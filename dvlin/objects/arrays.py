"""Integer columns held as arrays: 8 bytes a row where a list of Python ints costs 40.

A scan or a commit of a million files keeps several numbers per file (size, mtime, inode,
offset…); as lists of ints they cost about 100 MB a million rows more than as arrays. The
arrays hand themselves to Arrow through ``__arrow_array__`` from one copy of their bytes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

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


class Strings(Sequence[str]):
    """A column of strings held as one UTF-8 buffer: about 20 bytes a path where a list of
    ``str`` costs 80 (the object, its header and the list's pointer).

    Each value is followed by a NUL byte, so the buffer is the values joined with NULs (the
    stat cache's fingerprint hashes exactly that); ``_starts`` holds where each value starts,
    and one more entry past the end. Values are strict UTF-8: a string that does not encode
    (a lone surrogate) is refused, as Arrow refuses it. ``pa.array`` takes the column through
    ``__arrow_array__``, without a Python object per value.
    """

    __slots__ = ("_data", "_starts")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._data = bytearray()
        self._starts = Int64s((0,))
        for value in values:
            self.append(value)

    def append(self, value: str) -> None:
        """Add ``value`` at the end (UnicodeEncodeError when it is not valid UTF-8)."""
        data = self._data
        data += value.encode()
        data.append(0)
        self._starts.append(len(data))

    def extend_raw(self, data: bytes, starts: Iterable[int]) -> None:
        """Append another column's buffer and its ``_starts`` past the first (see
        :meth:`raw`): the walker's child process sends its paths so."""
        base = len(self._data)
        self._data += data
        self._starts.extend(map(base.__add__, starts))

    def raw(self) -> tuple[bytes, bytes]:
        """The buffer and the starts past the first (8-byte integers), as bytes."""
        return bytes(self._data), self._starts[1:].tobytes()

    def joined(self) -> bytes:
        """The values joined with NUL bytes, UTF-8 encoded (``"\\0".join(values).encode()``)."""
        return bytes(self._data[:-1])

    def __len__(self) -> int:
        return len(self._starts) - 1

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("Strings index out of range")
        starts = self._starts
        return self._data[starts[i] : starts[i + 1] - 1].decode()

    def __iter__(self) -> Iterator[str]:
        if not self._data:
            return iter(())
        values = self._data[:-1].decode().split("\0")
        if len(values) == len(self):
            return iter(values)
        return (self[i] for i in range(len(self)))  # a value holds a NUL itself

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Strings):
            return self._data == other._data and self._starts == other._starts
        if isinstance(other, list | tuple):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Strings({list(self)!r})"

    def __arrow_array__(self, type: Any = None) -> pa.Array:  # noqa: A002 - the protocol's name
        """This column as an Arrow string array (of ``type`` when given)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(self)
        if not n:
            return pa.array([], type or pa.string())
        # Each value with its NUL, straight from the buffer (no copy), then the NULs cut off
        # in C: one new buffer of the values.
        with_nul = pa.Array.from_buffers(
            pa.large_binary(),
            n,
            [None, pa.py_buffer(self._starts), pa.py_buffer(self._data)],
        )
        values = pc.binary_slice(with_nul, 0, -1)
        del with_nul
        return values.cast(type or pa.string())
