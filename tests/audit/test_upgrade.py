"""A catalog from before schema 6 (format-1 entries, no record digests) opens, verifies,
adopts its records and keeps working; tampering after the upgrade is caught."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.log import entries
from dvlin.audit.redact import redact
from dvlin.audit.verify import verify
from dvlin.errors import UsageError
from dvlin.ops.retention import hold
from tests.conftest import Cli, write_tree

_V3_AUDIT = """
CREATE TABLE audit (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT,
  details TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)
"""


def _legacy_hash(prev: str, fields: dict[str, object]) -> str:
    """The format-1 rule, written out independently of dvlin's code."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev.encode() + b"\n" + text.encode()).hexdigest()


def _make_old(db: Path, repo_id: str) -> list[str]:
    """Rewrite a catalog as schema 5 wrote it: the v3 audit table, a format-1 chain."""
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT seq, at, actor, action, target, outcome, reason, details FROM audit "
        "WHERE action != 'adopt' ORDER BY seq"
    ).fetchall()
    conn.execute("DROP TABLE audit")
    conn.execute(_V3_AUDIT)
    prev = hashlib.sha256(f"dvlin-audit-genesis:{repo_id}".encode()).hexdigest()
    hashes = []
    for seq, at, actor, action, target, outcome, reason, details in rows:
        fields = {
            "seq": seq,
            "at": at,
            "actor": actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            "reason": reason,
            "details": json.loads(details),
        }
        digest = _legacy_hash(prev, fields)
        conn.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, actor, action, target, outcome, reason, details, prev, digest),
        )
        prev = digest
        hashes.append(digest)
    # What later migrations (7: asset aliases and removals, 8: profiles, 9: remotes,
    # 10: manifest checks) added goes too.
    for table in (
        "asset_aliases",
        "profiles",
        "remote_segments",
        "remote_records",
        "remote_objects",
        "remote_audit",
        "manifest_checks",
    ):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("ALTER TABLE assets DROP COLUMN removed_at")
    conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    return hashes


@pytest.fixture
def old(repo: Repo) -> tuple[Repo, list[str]]:
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="d", message="first")
    write_tree(repo.root, {"d/a.txt": "2"})
    repo.commit(["d"], name="d", message="second", tags=["release-1"])
    hold(repo, "d@v1", reason="keep")
    repo.close()
    hashes = _make_old(repo.dvlin_dir / "catalog.db", repo.config.repo_id)
    return repo, hashes


def test_an_old_catalog_opens_verifies_and_keeps_working(
    old: tuple[Repo, list[str]], cli: Cli
) -> None:
    repo, hashes = old
    result = verify(repo.catalog, algorithm=repo.config.hash)  # opening migrates
    assert result.ok, result
    assert result.legacy == 4 and result.entries == 4 + 4  # 2 versions, 1 tag, 1 hold adopted
    got = entries(repo.catalog)
    assert [e.hash for e in got[:4]] == hashes  # old entries are untouched
    assert [e.format for e in got] == [1] * 4 + [2] * 4
    adopted = [(e.action, e.target, e.record.kind if e.record else None) for e in got[4:]]
    assert adopted == [
        ("adopt", "d@v1", "version"),
        ("adopt", "d@v2", "version"),
        ("adopt", "d@release-1", "tag"),
        ("adopt", "d@v1", "hold"),
    ]
    with repo.catalog.transaction(), pytest.raises(UsageError, match="cannot be redacted"):
        redact(repo.catalog, 1, ["actor"], reason="erasure")
    write_tree(repo.root, {"d/a.txt": "3"})
    repo.commit(["d"], name="d", tags=["release-2"])
    assert verify(repo.catalog, algorithm=repo.config.hash).ok
    repo.close()
    assert "chain intact" in cli("audit", "verify", ok=True).stdout
    assert "audit: intact" in cli("fsck", ok=True).stdout


def test_tampering_after_the_upgrade_is_caught(old: tuple[Repo, list[str]], cli: Cli) -> None:
    repo, _ = old
    v1 = repo.resolve("d@v1").id  # opening migrates
    repo.close()
    conn = sqlite3.connect(repo.dvlin_dir / "catalog.db")
    conn.execute("UPDATE tags SET version = ? WHERE name = 'release-1'", (v1,))
    conn.commit()
    conn.close()
    r = cli("audit", "verify")
    assert r.exit_code == 4 and "tag d@release-1 does not match audit entry 7" in r.stderr


def test_an_edited_legacy_entry_is_still_caught(old: tuple[Repo, list[str]], cli: Cli) -> None:
    repo, _ = old
    conn = sqlite3.connect(repo.dvlin_dir / "catalog.db")
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    conn.commit()
    conn.close()
    r = cli("audit", "verify")
    assert r.exit_code == 1 and "entry 2 was edited" in r.stderr
