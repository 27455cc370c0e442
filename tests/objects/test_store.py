"""The object store on memory, local and S3 filesystems: round trips, atomicity, verification."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.errors import IntegrityError
from dvlin.objects.hashing import ALGORITHMS, digest_length, hash_bytes
from dvlin.objects.store import ObjectStore
from tests.conftest import s3_filesystem


@pytest.fixture(params=["memory", "file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """An empty store on each backend: the same class of tests runs against all three."""
    if request.param == "memory":
        # fsspec's memory filesystem is global: each test gets its own root.
        return ObjectStore(
            fsspec.filesystem("memory"), f"/t-{uuid.uuid4().hex}", algorithm="xxh3-128"
        )
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        return ObjectStore(s3_filesystem(endpoint), f"{bucket}/objects", algorithm="xxh3-128")
    return ObjectStore(LocalFileSystem(), str(tmp_path / "objects"), algorithm="xxh3-128")


class TestObjectStore:
    """What every backend promises: round trips, idempotence, verification on every read."""

    def test_put_get_round_trip_and_fan_out(self, store: ObjectStore) -> None:
        oid = store.put(b"hello world")
        assert oid == hash_bytes("xxh3-128", b"hello world")
        assert len(oid) == 32
        assert store.get(oid) == b"hello world"
        assert store.path(oid).endswith(f"/{oid[:2]}/{oid[2:]}")
        assert store.has(oid)
        assert list(store.iter_oids()) == [oid]

    def test_put_is_idempotent(self, store: ObjectStore) -> None:
        a = store.put(b"same bytes")
        b = store.put(b"same bytes")
        assert a == b
        assert list(store.iter_oids()) == [a]

    def test_empty_object(self, store: ObjectStore) -> None:
        oid = store.put(b"")
        assert store.get(oid) == b"" and store.has(oid)

    def test_corrupt_object_is_an_integrity_error_never_data(self, store: ObjectStore) -> None:
        oid = store.put(b"precious")
        path = store.path(oid)
        if store.is_local:
            Path(path).chmod(0o644)
        store.fs.pipe_file(path, b"tampered")
        with pytest.raises(IntegrityError, match=f"object {oid} is corrupt"):
            store.get(oid)

    def test_missing_object_is_an_integrity_error(self, store: ObjectStore) -> None:
        assert not store.has("0" * 32)
        with pytest.raises(IntegrityError, match="missing"):
            store.get("0" * 32)

    def test_slices_are_verified(self, store: ObjectStore) -> None:
        pack = store.put(b"aaaabbbbcccc")
        b_oid = hash_bytes("xxh3-128", b"bbbb")
        assert store.get_slice(pack, 4, 4, b_oid) == b"bbbb"
        with pytest.raises(IntegrityError):
            store.get_slice(pack, 0, 4, b_oid)

    def test_an_empty_slice_is_empty(self, store: ObjectStore) -> None:
        # An empty file packed mid-pack: S3 answers the range "bytes=4-3" with the whole pack.
        pack = store.put(b"aaaabbbb")
        assert store.get_slice(pack, 4, 0, hash_bytes("xxh3-128", b"")) == b""

    def test_put_soon_is_there_after_sync(self, store: ObjectStore) -> None:
        data = [f"object {i}".encode() for i in range(5)]
        oids = [hash_bytes("xxh3-128", d) for d in data]
        for d, oid in zip(data, oids, strict=True):
            store.put_soon(d, oid)
        store.sync()
        assert sorted(store.iter_oids()) == sorted(oids)
        assert [store.get(oid) for oid in oids] == data

    def test_delete_removes_once(self, store: ObjectStore) -> None:
        keep, gone = store.put(b"keep"), store.put(b"gone")
        assert store.delete(gone) is True
        protocols = store.fs.protocol
        on_s3 = "s3" in (protocols if isinstance(protocols, tuple) else (protocols,))
        assert store.delete(gone) is on_s3  # harmless; S3 cannot tell it was already gone
        assert not store.has(gone) and list(store.iter_oids()) == [keep]
        assert store.get(keep) == b"keep"


def test_local_objects_are_read_only_and_no_temp_files_remain(tmp_path: Path) -> None:
    store = ObjectStore(LocalFileSystem(), str(tmp_path / "o"), algorithm="xxh3-128")
    oid = store.put(b"x" * 1000)
    mode = Path(store.path(oid)).stat().st_mode & 0o777
    assert mode & 0o222 == 0
    assert list((tmp_path / "o" / "tmp").iterdir()) == []


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_names_objects_by_its_digest(tmp_path: Path, algorithm: str) -> None:
    store = ObjectStore(LocalFileSystem(), str(tmp_path), algorithm=algorithm)
    oid = store.put(b"data")
    assert len(oid) == digest_length(algorithm)
    assert store.get(oid) == b"data"


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=5000))
def test_get_of_put_is_identity_property(data: bytes) -> None:
    store = ObjectStore(fsspec.filesystem("memory"), f"/p-{uuid.uuid4().hex}", algorithm="xxh3-128")
    oid = store.put(data)
    assert store.put(data) == oid
    assert store.get(oid) == data


def test_concurrent_writers_of_one_object_are_harmless(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = ObjectStore(LocalFileSystem(), str(tmp_path / "o"), algorithm="xxh3-128")
    data = b"same" * 100_000
    with ThreadPoolExecutor(8) as pool:
        oids = set(pool.map(lambda _: store.put(data), range(32)))
    assert len(oids) == 1
    (oid,) = oids
    assert store.get(oid) == data
    assert list(store.iter_oids()) == [oid]
    assert list((tmp_path / "o" / "tmp").iterdir()) == []


@pytest.mark.parametrize("data", [b"", b"one blob", bytes(range(256)) * 5000])
def test_pack_view_is_the_pack_bytes_and_a_missing_pack_is_named(
    store: ObjectStore, data: bytes
) -> None:
    pack = store.put(data)
    view = store.pack_view(pack)
    assert bytes(view) == data
    assert bytes(view[3:9]) == data[3:9]
    missing = hash_bytes(store.algorithm, b"never stored")
    with pytest.raises(IntegrityError, match=f"object {missing} is missing"):
        store.pack_view(missing)
