"""SHA-256 of small inputs (audit chain, cache keys) without importing :mod:`hashlib`.

``import hashlib`` loads OpenSSL's ``_hashlib`` (5-15 ms of every command), which only pays
for itself on big inputs (it uses the CPU's SHA instructions). The audit chain, the stat
cache's file names and the pending-work keys hash a few hundred bytes; CPython's built-in
SHA-256 (``_sha2`` from 3.12, ``_sha256`` before) gives the same digest, byte for byte,
without loading OpenSSL. Object content in a ``sha256`` repo is hashed with hashlib
(:func:`dvlin.objects.hashing.hasher_factory`): megabytes, where OpenSSL is faster.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol


class Sha256(Protocol):
    """The part of a hashlib SHA-256 object dvlin uses."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...

    def hexdigest(self) -> str: ...


def _constructor() -> Callable[[bytes], Any]:
    for module in ("_sha2", "_sha256"):  # Python 3.12+, then 3.11
        try:
            return importlib.import_module(module).sha256  # type: ignore[no-any-return]
        except (ImportError, AttributeError):
            continue
    import hashlib  # pragma: no cover - a build without the built-in module

    return hashlib.sha256  # pragma: no cover


_NEW = _constructor()


def sha256(data: bytes = b"") -> Sha256:
    """A SHA-256 hasher fed ``data``: the digest hashlib's gives, without OpenSSL."""
    return _NEW(data)  # type: ignore[no-any-return]
