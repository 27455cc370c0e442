"""Windowed content-defined chunking cuts exactly where a whole-file pass would."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dvlin.objects import ingest
from dvlin.objects.hashing import hash_bytes


class _Store:
    algorithm = "xxh3-128"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, data: bytes, oid: str) -> str:
        self.objects[oid] = bytes(data)
        return oid

    put_soon = put


class _Catalog:
    def find_object(self, oid: str) -> None:
        return None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_windowed_chunks_match_a_whole_file_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    from fastcdc import fastcdc

    monkeypatch.setattr(ingest, "_CDC_WINDOW", 5 * 1024 * 1024)  # several windows per file
    data = random.Random(seed).randbytes(23 * 1024 * 1024 + seed * 777)
    (tmp_path / "f").write_bytes(data)
    expected = [
        c.length
        for c in fastcdc(
            data, min_size=ingest.CHUNK_MIN, avg_size=ingest.CHUNK_AVG, max_size=ingest.CHUNK_MAX
        )
    ]
    store = _Store()
    ing = ingest.Ingester(store, _Catalog())  # type: ignore[arg-type]
    oid = ing._add_chunked(str(tmp_path / "f"), "f", 0o644)
    entry = ing.entries[0]
    assert [c.size for c in entry.chunks or ()] == expected
    assert oid == hash_bytes("xxh3-128", data)
    assert b"".join(store.objects[c.oid] for c in entry.chunks or ()) == data
