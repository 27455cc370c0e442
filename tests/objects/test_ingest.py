"""Windowed content-defined chunking cuts exactly where a whole-file pass would."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

import pytest

from dvlin.objects import ingest
from dvlin.objects.hashing import hash_bytes
from dvlin.objects.store import ObjectStore, StoredObject


class _Index:
    """The catalog's part: where objects are (what the commit recorded)."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}

    def find_object(self, oid: str) -> StoredObject | None:
        return self.objects.get(oid)

    def find_objects(self, oids: Iterable[str]) -> dict[str, StoredObject]:
        return {o: self.objects[o] for o in oids if o in self.objects}


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
    index = _Index()
    store = ObjectStore.local(str(tmp_path / "objects"), algorithm="xxh3-128", index=index)
    ing = ingest.Ingester(store, index)
    oid = ing._add_chunked(str(tmp_path / "f"), "f", 0o644)
    [entry] = ing.finish()
    index.objects.update(ing.new_objects)
    assert [c.size for c in entry.chunks or ()] == expected
    assert oid == hash_bytes("xxh3-128", data)
    assert b"".join(store.get(c.oid) for c in entry.chunks or ()) == data
