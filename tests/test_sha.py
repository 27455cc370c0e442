"""dvlin.sha: the built-in SHA-256 gives hashlib's digests, so old audit chains verify."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from dvlin.sha import sha256


@given(st.lists(st.binary(max_size=300), max_size=5))
def test_the_digest_is_hashlibs_for_any_bytes_fed_in_any_pieces(pieces: list[bytes]) -> None:
    ours, theirs = sha256(), hashlib.sha256()
    for piece in pieces:
        ours.update(piece)
        theirs.update(piece)
    assert ours.digest() == theirs.digest()
    assert ours.hexdigest() == theirs.hexdigest()
    assert sha256(b"".join(pieces)).hexdigest() == theirs.hexdigest()


def test_a_known_digest() -> None:
    assert sha256(b"abc").hexdigest() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
