"""Hash algorithms and the id types derived from them."""

from __future__ import annotations

import hashlib
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
        return hashlib.sha256
    if algorithm == "blake3":
        import blake3

        return blake3.blake3
    raise UsageError(
        f"unknown hash algorithm {algorithm!r}",
        hint=f"choose one of: {', '.join(ALGORITHMS)}",
    )


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
