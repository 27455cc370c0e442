"""fsck: every version's objects exist and verify; the catalog and the audit chain are sound."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.objects.ingest import CHUNK_MIN_FILE
from dvlin.ops.fsck import fsck
from tests.conftest import Cli, write_tree


@pytest.fixture
def filled(repo: Repo) -> Repo:
    write_tree(
        repo.root, {"d/a.txt": "small", "d/b.txt": "other", "d/mid.bin": os.urandom(300_000)}
    )
    repo.commit(["d"], name="d")
    (repo.root / "big.bin").write_bytes(os.urandom(CHUNK_MIN_FILE + 5000))
    repo.commit(["big.bin"], name="big")
    return repo


def _writable(path: str) -> Path:
    p = Path(path)
    p.chmod(0o644)
    return p


def test_a_sound_repo(filled: Repo, cli: Cli) -> None:
    report = fsck(filled)
    assert report.ok and report.versions == 2 and report.catalog == "ok"
    assert report.objects >= 5 and report.bytes > CHUNK_MIN_FILE
    r = cli("fsck", ok=True)
    assert "checked 2 versions" in r.stdout and "audit: intact" in r.stdout


def test_a_corrupt_pack_names_the_versions(filled: Repo, cli: Cli) -> None:
    found = filled.catalog.find_object(_oid(filled, b"small"))
    assert found is not None and found.pack is not None
    pack = _writable(filled.store.path(found.pack))
    data = bytearray(pack.read_bytes())
    data[found.offset or 0] ^= 1
    pack.write_bytes(bytes(data))
    report = fsck(filled)
    kinds = {(p.kind, p.versions) for p in report.problems}
    assert ("corrupt", ("d@v1",)) in kinds
    r = cli("fsck", "--json")
    assert r.exit_code == 4 and json.loads(r.stdout)["ok"] is False
    text = cli("fsck").stdout
    assert "✗ corrupt:" in text and "(affects d@v1)" in text


def _chunk_pack(repo: Repo) -> str:
    version = repo.resolve("big")
    chunk = repo.catalog.conn.execute(
        "SELECT oid FROM version_objects WHERE version = ? AND oid != ? LIMIT 1",
        (version.id, version.manifest),
    ).fetchone()[0]
    found = repo.catalog.find_object(chunk)
    assert found is not None and found.pack is not None  # chunks live in packs
    return found.pack


def test_a_missing_chunk_pack_is_reported_once(filled: Repo, cli: Cli) -> None:
    pack = _chunk_pack(filled)
    os.remove(filled.store.path(pack))
    report = fsck(filled)
    assert [(p.kind, p.oid, p.versions) for p in report.problems] == [
        ("missing", pack, ("big@v1",))
    ]
    filled.close()
    r = cli("fsck")
    assert r.exit_code == 4
    assert f"✗ missing: object {pack} is missing from the store (affects big@v1)" in r.stdout


def test_a_corrupt_chunk_pack_names_the_version(filled: Repo) -> None:
    oid = _chunk_pack(filled)
    pack = _writable(filled.store.path(oid))
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 1
    pack.write_bytes(bytes(data))
    [problem] = fsck(filled).problems
    assert (problem.kind, problem.oid, problem.versions) == ("corrupt", oid, ("big@v1",))
    assert f"object {oid} is corrupt" in problem.message


def test_a_tampered_audit_log_fails_the_check(filled: Repo, cli: Cli) -> None:
    filled.close()
    conn = sqlite3.connect(filled.dvlin_dir / "catalog.db")
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
    conn.commit()
    conn.close()
    r = cli("fsck")
    assert r.exit_code == 1 and "entry 1 was edited" in r.stdout


def _oid(repo: Repo, data: bytes) -> str:
    from dvlin.objects.hashing import hash_bytes

    return hash_bytes(repo.config.hash, data)


def test_a_mangled_version_row_is_named_not_a_traceback(filled: Repo, cli: Cli) -> None:
    filled.close()
    conn = sqlite3.connect(filled.dvlin_dir / "catalog.db")
    conn.execute("UPDATE versions SET info = '{bad' WHERE asset = 'd'")
    conn.commit()
    conn.close()
    r = cli("fsck")
    assert r.exit_code == 4
    assert "✗ catalog: version d@v1: its row is not valid JSON" in r.stdout
    assert "✗ record: version d@v1 does not match audit entry 1" in r.stdout
    assert "checked 1 version," in r.stdout  # big@v1 is still checked


def test_packs_shared_by_versions_name_every_version_that_needs_them(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of several packs, interleaved in the second version's manifest (its new files went
    into a new pack): a damaged pack names each version with a row in it, once."""
    from dvlin.objects import ingest

    monkeypatch.setattr(ingest, "PACK_TARGET", 64)  # a pack every few files
    files: dict[str, object] = {f"d/f{i}.txt": f"content {i} " * 3 for i in range(10)}
    files["d/f7.txt"] = files["d/f3.txt"]  # one blob, two paths
    write_tree(repo.root, files)
    repo.commit(["d"], name="d")
    write_tree(repo.root, {"d/f2.txt": "changed two " * 3, "d/f5.txt": "changed five " * 3})
    repo.commit(["d"], name="d")
    shared = repo.catalog.find_object(_oid(repo, str(files["d/f3.txt"]).encode()))
    fresh = repo.catalog.find_object(_oid(repo, b"changed five " * 3))
    assert shared is not None and fresh is not None
    assert shared.pack is not None and fresh.pack is not None and shared.pack != fresh.pack
    for pack_oid in (shared.pack, fresh.pack):
        pack = _writable(repo.store.path(pack_oid))
        data = bytearray(pack.read_bytes())
        data[1] ^= 1
        pack.write_bytes(bytes(data))
    report = fsck(repo)
    assert sorted((p.kind, p.oid, p.versions) for p in report.problems) == sorted(
        [("corrupt", shared.pack, ("d@v1", "d@v2")), ("corrupt", fresh.pack, ("d@v2",))]
    )
    assert report.versions == 2


def test_pack_slices_come_out_per_pack_first_row_first() -> None:
    """The slices of one pack, from versions whose rows interleave packs: each slice once,
    named by its first row (versions in order, rows in order)."""
    import pyarrow as pa

    from dvlin.ops.fsck import _PackSlices

    def rows(*r: tuple[str, str, str, int, int]) -> pa.Table:
        names = ["path", "oid", "pack", "offset", "size"]
        return pa.table({n: [x[i] for x in r] for i, n in enumerate(names)})

    slices = _PackSlices()
    one = slices.add(rows(("a", "o1", "P", 0, 5), ("b", "o2", "Q", 0, 3), ("c", "o1", "P", 0, 5)))
    two = slices.add(rows(("b2", "o2", "Q", 0, 3), ("d", "o3", "P", 5, 2), ("e", "o4", "Q", 3, 1)))
    slices.add_chunk("R", "c1", 0, 9)
    slices.add_chunk("P", "o3", 5, 2)
    assert sorted(one.to_pylist()) == ["P", "Q"] and sorted(two.to_pylist()) == ["P", "Q"]
    assert slices.packs() == ["P", "Q", "R"]
    assert slices.of("P") == {("o1", 0, 5): "a", ("o3", 5, 2): "d"}
    assert list(slices.of("Q").items()) == [(("o2", 0, 3), "b"), (("o4", 3, 1), "e")]
    assert slices.of("R") == {("c1", 0, 9): "chunk c1"}
    assert slices.of("S") == {}
