"""Content-defined chunking: an edit in the middle of a big file stores only nearby chunks."""

from __future__ import annotations

import os
import random

import pytest

from dvlin import Repo
from dvlin.objects.ingest import CHUNK_MIN_FILE, Ingester
from tests.conftest import snapshot


def _store_bytes(repo: Repo) -> int:
    root = repo.dvlin_dir / "objects"
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def test_big_file_edit_in_the_middle_stores_a_few_chunks(repo: Repo) -> None:
    size = 3 * CHUNK_MIN_FILE  # 24 MiB
    rng = random.Random(7)
    data = bytearray(rng.randbytes(size))
    (repo.root / "big.bin").write_bytes(data)
    first = repo.commit(["big.bin"], name="big")
    chunks = repo.catalog.conn.execute(
        "SELECT COUNT(*) FROM version_objects WHERE version = ?", (first.version.id,)
    ).fetchone()[0]
    assert chunks > 5  # cut into chunks, plus the manifest
    before = _store_bytes(repo)

    middle = size // 2
    data[middle : middle + 1024 * 1024] = rng.randbytes(1024 * 1024)
    (repo.root / "big.bin").write_bytes(data)
    second = repo.commit(["big.bin"], name="big")
    grown = _store_bytes(repo) - before
    assert second.created
    assert grown < 8 * 1024 * 1024, f"stored {grown} new bytes for a 1 MiB edit"
    assert second.new_bytes == grown - _manifest_size(repo, second.version.manifest)

    out = repo.root.parent / "out"
    repo.checkout("big@v1", to=out)
    assert (out / "big.bin").read_bytes() == bytes(first_bytes(size))
    repo.checkout("big@v2", to=out, force=True)
    assert snapshot(out)["big.bin"][1] == bytes(data)


def first_bytes(size: int) -> bytes:
    return random.Random(7).randbytes(size)


def _manifest_size(repo: Repo, oid: str) -> int:
    return os.path.getsize(repo.store.path(oid))


def test_unchanged_big_file_is_not_reread(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo.root / "d").mkdir()
    (repo.root / "d/big.bin").write_bytes(os.urandom(CHUNK_MIN_FILE + 1))
    past = os.stat(repo.root / "d/big.bin").st_mtime - 10
    os.utime(repo.root / "d/big.bin", (past, past))
    repo.commit(["d"], name="d")

    def no_rechunking(*args: object) -> None:
        raise AssertionError("the unchanged big file was read again")

    monkeypatch.setattr(Ingester, "_add_chunked", no_rechunking)
    (repo.root / "d/small.txt").write_text("x")
    (repo.root / "d/other.txt").write_text("y")
    result = repo.commit(["d"], name="d")
    assert result.created
    assert result.new_objects == 2  # the pack holding both small files, and the manifest
