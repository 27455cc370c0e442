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
