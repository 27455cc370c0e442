"""The GIL-releasing hashers give the digests of the ordinary ones."""

from __future__ import annotations

import hashlib

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.objects import hashing
from dvlin.objects.hashing import hash_bytes, hasher_factory, unlocked_hasher_factory


def _feed(new: object, data: bytes, cuts: list[int], kind: str) -> str:
    h = new()  # type: ignore[operator]
    buf: bytes | bytearray = bytearray(data) if kind == "writable" else data
    view = memoryview(buf)
    start = 0
    for end in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        piece = view[start:end]
        h.update(bytes(piece) if kind == "bytes" else piece)
        start = max(start, end)
    return str(h.hexdigest())


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=5000)
    | st.integers(0, 300_000).map(lambda n: bytes(range(256)) * (n // 256)),
    cuts=st.lists(st.integers(0, 400_000), max_size=6),
    kind=st.sampled_from(["bytes", "writable", "readonly"]),
)
def test_unlocked_xxh3_equals_the_xxhash_package(data: bytes, cuts: list[int], kind: str) -> None:
    expected = xxhash.xxh3_128(data).hexdigest()
    assert _feed(unlocked_hasher_factory("xxh3-128"), data, cuts, kind) == expected
    assert hash_bytes("xxh3-128", data) == expected


def test_unlocked_xxh3_goes_through_ctypes_where_the_library_exports_it() -> None:
    assert hashing._xxh3_library() is not None  # the wheels this project installs do
    assert unlocked_hasher_factory("xxh3-128") is hashing._UnlockedXxh3


def test_without_the_exported_functions_the_package_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "_XXH3", [None])
    new = unlocked_hasher_factory("xxh3-128")
    assert new is hasher_factory("xxh3-128")
    assert _feed(new, b"abc" * 1000, [7], "writable") == xxhash.xxh3_128(b"abc" * 1000).hexdigest()


def test_other_algorithms_keep_their_own_hashers() -> None:
    h = unlocked_hasher_factory("sha256")()
    h.update(b"x" * 5000)
    assert h.hexdigest() == hashlib.sha256(b"x" * 5000).hexdigest()


@pytest.mark.parametrize("algorithm", ["xxh3-128", "sha256", "blake3"])
@pytest.mark.parametrize("data", [b"", b"a", bytes(range(256)) * 40])
def test_the_one_shot_digest_equals_a_hasher(algorithm: str, data: bytes) -> None:
    """``digest_function`` (a checkout's check of each blob, a commit's hash of each small
    file) gives what a hasher fed the same bytes gives, for bytes and memoryviews alike."""
    digest = hashing.digest_function(algorithm)
    expected = hash_bytes(algorithm, data)
    assert digest(data) == expected
    assert digest(memoryview(bytearray(data))[: len(data)]) == expected
    if algorithm == "xxh3-128":
        assert expected == xxhash.xxh3_128_hexdigest(data)
