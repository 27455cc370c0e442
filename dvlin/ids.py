"""The id types, ``Oid`` and ``VersionId``, and their parsers for ids that come from outside.

An id read from a manifest, a remote, the audit log, ``dvlin.lock`` or the command line is
parsed here once, and trusted as its type from then on. The module sits low in the layers so
that every reader, ``dvlin.lockfile`` included, can parse; :mod:`dvlin.objects.hashing`
re-exports it beside the algorithms.
"""

from __future__ import annotations

import re
from typing import NewType

from dvlin.errors import IntegrityError

Oid = NewType("Oid", str)
"""The hex digest of an object's bytes under the repo's hash algorithm."""

VersionId = NewType("VersionId", str)
"""A version's content-derived id: always 32 lower-case hex characters."""

VERSION_ID_LENGTH = 32
OID_LENGTHS = (32, 64)
"""The lengths an oid has: 32 hex for xxh3-128, 64 for sha256 and blake3."""

_HEX = re.compile(r"[0-9a-f]+\Z")


def digest_length(algorithm: str) -> int:
    """Number of hex characters in an oid of ``algorithm``."""
    return 32 if algorithm == "xxh3-128" else 64


def is_hex(text: str) -> bool:
    """True when ``text`` is non-empty lower-case hex."""
    return bool(_HEX.match(text))


class MalformedIdError(IntegrityError):
    """An id read from storage that is not one (exit 4); a caller that read it from the user
    turns it into a usage or not-found error."""

    def __init__(self, message: str, *, text: str) -> None:
        super().__init__(message)
        self.text = text


def parse_oid(text: str, algorithm: str) -> Oid:
    """Validate an oid that came from outside (a manifest, a remote, the command line).

    Raises:
        MalformedIdError: not ``digest_length(algorithm)`` lower-case hex characters.
    """
    if len(text) != digest_length(algorithm) or not is_hex(text):
        raise MalformedIdError(f"malformed object id {text!r} for {algorithm}", text=text)
    return Oid(text)


def parse_version_id(text: str) -> VersionId:
    """Validate a version id that came from outside (a remote, the audit log, ``dvlin.lock``).

    Raises:
        MalformedIdError: not 32 lower-case hex characters.
    """
    if len(text) != VERSION_ID_LENGTH or not is_hex(text):
        raise MalformedIdError(f"malformed version id {text!r}", text=text)
    return VersionId(text)
