"""Hash algorithms and the id types derived from them."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import NamedTuple, Protocol

from dvlin.errors import UsageError
from dvlin.ids import (
    MalformedIdError,
    Oid,
    VersionId,
    digest_length,
    is_hex,
    parse_oid,
    parse_version_id,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "Hasher",
    "MalformedIdError",
    "Oid",
    "StatRow",
    "VersionId",
    "digest_length",
    "hash_bytes",
    "hash_file",
    "hasher_factory",
    "is_hex",
    "unlocked_hasher_factory",
    "parse_oid",
    "parse_version_id",
]


class StatRow(NamedTuple):
    """A stat-cache row: if a file still stats like this, its content hashes to ``oid``."""

    size: int
    mtime_ns: int
    inode: int
    oid: Oid


ALGORITHMS = ("xxh3-128", "sha256", "blake3")
DEFAULT_ALGORITHM = "xxh3-128"


class Hasher(Protocol):
    """The incremental interface shared by hashlib, xxhash and blake3 objects."""

    def update(self, data: bytes | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


def hasher_factory(algorithm: str) -> Callable[[], Hasher]:
    """Return a constructor of fresh hashers for ``algorithm``."""
    if algorithm == "xxh3-128":
        import xxhash

        return xxhash.xxh3_128
    if algorithm == "sha256":
        import hashlib  # OpenSSL's, faster than the built-in one on object-sized inputs

        return hashlib.sha256
    if algorithm == "blake3":
        import blake3

        return blake3.blake3
    raise UsageError(
        f"unknown hash algorithm {algorithm!r}",
        hint=f"choose one of: {', '.join(ALGORITHMS)}",
    )


def digest_function(algorithm: str) -> Callable[[bytes | memoryview], str]:
    """A function from one buffer to its hex digest: one call per small object, no hasher
    object built (a checkout verifies, and a commit hashes, 20,000 files one by one)."""
    if algorithm == "xxh3-128":
        import xxhash

        return xxhash.xxh3_128_hexdigest
    new = hasher_factory(algorithm)

    def digest(data: bytes | memoryview) -> str:
        h = new()
        h.update(data)
        return h.hexdigest()

    return digest


def hash_bytes(algorithm: str, data: bytes | memoryview) -> Oid:
    """Hash one buffer."""
    h = hasher_factory(algorithm)()
    h.update(data)
    return Oid(h.hexdigest())


def hash_file(algorithm: str, path: str, *, block: int = 1 << 20) -> Oid:
    """Hash a file's bytes, reading it in blocks."""
    h = hasher_factory(algorithm)()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(block):
            h.update(chunk)
    return Oid(h.hexdigest())


def unlocked_hasher_factory(algorithm: str) -> Callable[[], Hasher]:
    """Like :func:`hasher_factory`, for hashers that release the GIL while they hash.

    The ``xxhash`` package holds the GIL while it hashes, so on a big file's commit its three
    passes (the file, each chunk, each pack) queue behind FastCDC, which holds it too. The
    same compiled xxHash, called through ``ctypes`` (which releases the GIL), lets them run on
    another CPU meanwhile. Same algorithm, same digests (a property test compares them); where
    the package's library does not export xxHash's functions, the package's own hasher is
    used. hashlib's SHA-256 releases the GIL by itself for buffers of 2 KiB or more.
    """
    if algorithm == "xxh3-128" and _xxh3_library() is not None:
        return _UnlockedXxh3
    return hasher_factory(algorithm)


class _Digest128(ctypes.Structure):
    _fields_ = (("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64))


_XXH3: list[ctypes.CDLL | None] = []
_UPDATE: list[Callable[..., int]] = []  # XXH3_128bits_update, or its dispatching variant


def _xxh3_library() -> ctypes.CDLL | None:
    """The ``xxhash`` package's compiled library, with the XXH3-128 streaming functions typed."""
    if not _XXH3:
        lib: ctypes.CDLL | None
        try:
            import xxhash._xxhash as compiled

            lib = ctypes.CDLL(compiled.__file__)
            lib.XXH3_createState.restype = ctypes.c_void_p
            lib.XXH3_createState.argtypes = ()
            lib.XXH3_freeState.restype = ctypes.c_int
            lib.XXH3_freeState.argtypes = (ctypes.c_void_p,)
            lib.XXH3_128bits_reset.restype = ctypes.c_int
            lib.XXH3_128bits_reset.argtypes = (ctypes.c_void_p,)
            lib.XXH3_128bits_update.restype = ctypes.c_int
            lib.XXH3_128bits_update.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
            # The package's own hasher calls the variant that picks the CPU's widest vectors
            # (AVX-512 here): a quarter less time per byte than the plain export.
            update = getattr(lib, "XXH3_128bits_update_dispatch", lib.XXH3_128bits_update)
            update.restype = ctypes.c_int
            update.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
            _UPDATE[:] = [update]
            lib.XXH3_128bits_digest.restype = _Digest128
            lib.XXH3_128bits_digest.argtypes = (ctypes.c_void_p,)
        except (ImportError, OSError, AttributeError):  # not exported: hash with the package
            lib = None
        _XXH3.append(lib)
    return _XXH3[0]


class _UnlockedXxh3:
    """An XXH3-128 stream hashed by ctypes calls, which release the GIL."""

    __slots__ = ("_lib", "_state", "_update")

    def __init__(self) -> None:
        lib = _xxh3_library()
        assert lib is not None
        state = lib.XXH3_createState()
        if not state:
            raise MemoryError("xxh3 state")
        self._lib, self._state, self._update = lib, state, _UPDATE[0]
        lib.XXH3_128bits_reset(state)

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            self._lib.XXH3_freeState(self._state)
            self._state = None

    def update(self, data: bytes | memoryview, /) -> object:
        n = len(data) if isinstance(data, bytes) else data.nbytes
        if not n:
            return None
        if isinstance(data, bytes):
            self._update(self._state, data, n)
            return None
        view = memoryview(data)
        if view.readonly or not view.c_contiguous:
            view = memoryview(bytes(view))  # rare: chunks and windows are writable buffers
            self._update(self._state, view.obj, n)
            return None
        # Borrow the buffer's address for the call only (no copy); the export ends with it.
        pointer = (ctypes.c_char * n).from_buffer(view)
        try:
            self._update(self._state, ctypes.addressof(pointer), n)
        finally:
            del pointer
            view.release()
        return None

    def hexdigest(self) -> str:
        got = self._lib.XXH3_128bits_digest(self._state)
        return f"{got.high64:016x}{got.low64:016x}"
