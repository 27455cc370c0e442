"""Content-defined chunking: an edit in the middle of a big file stores only nearby chunks."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.objects.ingest import CHUNK_MIN_FILE, Ingester
from dvlin.objects.manifest import Entry
from tests.conftest import kill_when_paused, snapshot


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


def _two_versions(repo: Repo) -> tuple[bytes, bytes]:
    """big.bin v1, then v2 with 1 MiB rewritten in the middle (the folder holds v2)."""
    size = 3 * CHUNK_MIN_FILE
    v1 = random.Random(11).randbytes(size)
    (repo.root / "big.bin").write_bytes(v1)
    repo.commit(["big.bin"], name="big")
    middle = size // 2
    v2 = v1[:middle] + random.Random(12).randbytes(1024 * 1024) + v1[middle + 1024 * 1024 :]
    (repo.root / "big.bin").write_bytes(v2)
    past = os.stat(repo.root / "big.bin").st_mtime - 10  # out of the racy window: cached
    os.utime(repo.root / "big.bin", (past, past))
    repo.commit(["big.bin"], name="big")
    return v1, v2


def _temporary(repo: Repo) -> list[str]:
    from dvlin.workspace.pending import is_temporary_name

    return [n for n in os.listdir(repo.root) if is_temporary_name(n)]


def test_switching_a_big_file_in_place_round_trips(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.objects.store import ChunkReader

    v1, v2 = _two_versions(repo)
    read: list[str] = []
    real = ChunkReader.place

    def counted(self: ChunkReader, oid: str, size: int) -> tuple[int, int, str] | None:
        read.append(oid)
        return real(self, oid, size)

    monkeypatch.setattr(ChunkReader, "place", counted)
    repo.checkout("big@v1")
    # Only the chunks v2 does not share came from the store; the rest from the file itself.
    assert 0 < len(read) <= 3
    assert (repo.root / "big.bin").read_bytes() == v1
    assert repo.status().clean
    repo.checkout("big@v2")
    assert (repo.root / "big.bin").read_bytes() == v2
    assert _temporary(repo) == []


def test_a_big_file_changed_after_the_stat_check_still_switches_to_the_version(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvlin.workspace import chunked

    v1, _ = _two_versions(repo)
    target = repo.root / "big.bin"
    real = chunked._open_present

    def edited_meanwhile(full: str, present: Entry) -> object:
        # Another program writes into the file between the checkout's scan and its copy,
        # and puts the modification time back.
        st = target.stat()
        with open(target, "r+b") as f:
            f.seek(100)
            f.write(b"an edit in place")
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        return real(full, present)

    monkeypatch.setattr(chunked, "_open_present", edited_meanwhile)
    repo.checkout("big@v1")
    assert target.read_bytes() == v1
    assert _temporary(repo) == []


@pytest.mark.slow
def test_a_big_file_switch_killed_before_its_rename_leaves_the_old_file(
    repo: Repo, tmp_path: Path
) -> None:

    from dvlin.faults import IN_CHUNKED

    v1, v2 = _two_versions(repo)
    paused = tmp_path / "paused"
    kill_when_paused(["checkout", "big@v1"], repo.root, IN_CHUNKED, paused)
    assert (repo.root / "big.bin").read_bytes() == v2  # the old file, whole
    report = repo.status()
    assert report.assets[0].state == "interrupted"
    assert "big.bin" not in str(report.to_dict()["assets"][0].get("modified", ""))
    repo.checkout("big@v1")
    assert (repo.root / "big.bin").read_bytes() == v1
    # The killed writer's temporary file beside a single-file asset is outside the asset's
    # walk: the rerun removes it all the same (it would hold up to the file's size).
    assert _temporary(repo) == []
    assert repo.status().clean
