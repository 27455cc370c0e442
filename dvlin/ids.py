"""The id types, ``Oid`` and ``VersionId``, and their parsers for ids that come from outside.

An id read from a manifest, a remote, the audit log, ``dvlin.lock`` or the command line is
parsed here once, and trusted as its type from then on. The module sits low in the layers so
that every reader, ``dvlin.lockfile`` included, can parse; :mod:`dvlin.objects.hashing`
re-exports it beside the algorithms.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
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


def check_oids(texts: Collection[str], algorithm: str) -> None:
    """:func:`parse_oid` over many ids at once, as one regular-expression pass.

    A record segment indexes every object a push sent (10^5 and more); one call per id
    cost as much as decoding the segment.

    Raises:
        MalformedIdError: naming the first id that is not one.
    """
    _check_all(texts, digest_length(algorithm), lambda t: parse_oid(t, algorithm))


def check_version_ids(texts: Collection[str]) -> None:
    """:func:`parse_version_id` over many ids at once (see :func:`check_oids`)."""
    _check_all(texts, VERSION_ID_LENGTH, parse_version_id)


def _check_all(texts: Collection[str], length: int, parse: Callable[[str], object]) -> None:
    if not texts:
        return
    joined = "\n".join(texts).encode()
    # Each text is `length` long, nothing but lower-case hex and the separators remains, and
    # there are no newlines but the separators: then each text is `length` hex. All in C.
    if (
        set(map(len, texts)) == {length}
        and not joined.translate(None, b"0123456789abcdef\n")
        and joined.count(b"\n") == len(texts) - 1
    ):
        return
    for text in texts:
        parse(text)
    raise AssertionError("unreachable: some text did not parse")  # pragma: no cover
