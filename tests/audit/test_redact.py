"""Redaction: personal data leaves an entry, the chain still verifies and says so."""

from __future__ import annotations

import json
import sqlite3

import pytest

from dvlin import Repo
from dvlin.audit.entry import PAYLOAD_FIELDS
from dvlin.audit.log import entries, get_entry
from dvlin.audit.redact import MARKER, redact
from dvlin.audit.verify import verify
from dvlin.errors import NotFoundError, UsageError
from dvlin.ops.retention import hold
from tests.conftest import Cli, write_tree


@pytest.fixture
def held(repo: Repo) -> Repo:
    """d@v1 and a hold on it whose reason names a person (entry 2)."""
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="d")
    hold(repo, "d@v1", reason="complaint by Jane Roe")
    return repo


def _raw(repo: Repo, seq: int) -> tuple[str, ...]:
    row = repo.catalog.conn.execute(
        "SELECT actor, reason, salts, redacted FROM audit WHERE seq = ?", (seq,)
    ).fetchone()
    return tuple(row)


def test_each_entry_has_its_own_random_salts(held: Repo) -> None:
    a, b = entries(held.catalog)
    assert set(a.salts) == set(PAYLOAD_FIELDS) and len(a.salts["actor"]) == 32
    assert a.salts["actor"] != b.salts["actor"] != b.salts["reason"]
    assert a.clone == held.config.repo_id and a.format == 2


def test_a_redacted_entry_still_verifies_and_is_reported(held: Repo) -> None:
    head_before = verify(held.catalog).head
    with held.catalog.transaction():
        done = redact(held.catalog, 2, ["actor", "reason"], reason="erasure request E-12")
    assert (done.seq, done.action, done.target) == (3, "redact", "#2")
    assert done.details == {"seq": 2, "fields": ["actor", "reason"]}
    actor, reason, salts, kept = _raw(held, 2)
    assert actor == MARKER and reason == MARKER
    assert "Jane" not in json.dumps([actor, reason, salts, kept])
    assert set(json.loads(salts)) == {"outcome", "details"}  # the erased fields' salts are gone
    assert set(json.loads(kept)) == {"actor", "reason"}
    result = verify(held.catalog, algorithm=held.config.hash)
    assert result.ok, result
    assert head_before.split(":")[1] == get_entry(held.catalog, 2).hash  # type: ignore[union-attr]
    assert [(r.seq, r.fields, r.by) for r in result.redacted] == [(2, ("actor", "reason"), 3)]


def test_unredacted_fields_of_a_redacted_entry_stay_protected(held: Repo) -> None:
    with held.catalog.transaction():
        redact(held.catalog, 2, ["reason"], reason="erasure")
    held.close()
    conn = sqlite3.connect(held.dvlin_dir / "catalog.db")
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    conn.commit()
    conn.close()
    result = verify(held.catalog)
    assert result.first_bad_seq == 2 and "payload" in (result.problem or "")


def test_erasing_without_a_redact_entry_is_caught(held: Repo) -> None:
    with held.catalog.transaction():
        redact(held.catalog, 2, ["reason"], reason="erasure")
    held.close()
    conn = sqlite3.connect(held.dvlin_dir / "catalog.db")
    conn.execute("DELETE FROM audit WHERE seq = 3")  # hide the redact entry (the tail)
    conn.commit()
    conn.close()
    result = verify(held.catalog)
    assert not result.ok and "no redact entry records" in (result.problem or "")


def test_refusals(held: Repo) -> None:
    with held.catalog.transaction():
        with pytest.raises(UsageError, match="cannot redact field 'hash'"):
            redact(held.catalog, 2, ["hash"], reason="x")
        with pytest.raises(NotFoundError):
            redact(held.catalog, 99, ["actor"], reason="x")
        with pytest.raises(UsageError, match="needs a reason"):
            redact(held.catalog, 2, ["actor"], reason=" ")
        redact(held.catalog, 2, ["actor"], reason="x")
        with pytest.raises(UsageError, match="already has actor redacted"):
            redact(held.catalog, 2, ["actor"], reason="x")
        with pytest.raises(UsageError, match="details must stay"):
            redact(held.catalog, 3, ["details"], reason="x")
    assert verify(held.catalog).ok


def test_cli(held: Repo, cli: Cli) -> None:
    r = cli(
        "audit", "redact", "2", "--field", "reason", "--reason", "erasure request E-12", ok=True
    )
    assert "redacted reason of entry 2 (entry 3)" in r.stdout
    ok = cli("audit", "verify", ok=True)
    assert "chain intact" in ok.stdout and "redacted: entry 2 (reason) by entry 3" in ok.stdout
    doc = json.loads(cli("audit", "verify", "--json", ok=True).stdout)
    assert doc["redacted"] == [{"seq": 2, "fields": ["reason"], "by": 3}]
    assert "(redacted: reason)" in cli("audit", "log", ok=True).stdout
    assert "Jane" not in cli("audit", "log", "--json", ok=True).stdout
    bad = cli("audit", "redact", "2", "--field", "nope", "--reason", "x")
    assert bad.exit_code == 2 and "cannot redact field 'nope'" in bad.stderr
    assert cli("audit", "redact", "42", "--field", "actor", "--reason", "x").exit_code == 3
