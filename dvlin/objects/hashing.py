"""Hash algorithms and the id types derived from them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import NamedTuple, NewType, Protocol

from dvlin.errors import UsageError

Oid = NewType("Oid", str)
"""The hex digest of an object's bytes under the repo's hash algorithm."""

VersionId = NewType("VersionId", str)
"""A version's content-derived id: always 32 lower-case hex characters."""


class StatRow(NamedTuple):
    """A stat-cache row: if a file still stats like this, its content hashes to ``oid``."""

    size: int
    mtime_ns: int
    inode: int
    oid: Oid


ALGORITHMS = ("xxh3-128", "sha256", "blake3")
DEFAULT_ALGORITHM = "xxh3-128"

_HEX = re.compile(r"^[0-9a-f]+$")


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


def digest_length(algorithm: str) -> int:
    """Number of hex characters in an oid of ``algorithm``."""
    return 32 if algorithm == "xxh3-128" else 64


def hash_bytes(algorithm: str, data: bytes | memoryview) -> Oid:
    """Hash one buffer."""
    h = hasher_factory(algorithm)()
    h.update(data)
    return Oid(h.hexdigest())


def is_hex(text: str) -> bool:
    """True when ``text`` is non-empty lower-case hex."""
    return bool(_HEX.match(text))


def parse_oid(text: str, algorithm: str) -> Oid:
    """Validate an oid that came from outside (a manifest, a remote, the command line)."""
    if len(text) != digest_length(algorithm) or not is_hex(text):
        from dvlin.errors import IntegrityError

        raise IntegrityError(f"malformed object id {text!r} for {algorithm}")
    return Oid(text)


def hash_file(algorithm: str, path: str, *, block: int = 1 << 20) -> Oid:
    """Hash a file's bytes, reading it in blocks."""
    h = hasher_factory(algorithm)()
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(block):
            h.update(chunk)
    return Oid(h.hexdigest())
