"""The audit log: one entry per change, in the change's transaction; tampering is caught."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.audit.log import entries, genesis, verify
from dvlin.errors import UsageError
from tests.conftest import Cli, write_tree


@pytest.fixture
def logged(repo: Repo) -> Repo:
    """A repo with a few changes: two commits, a tag."""
    write_tree(repo.root, {"d/a.txt": "1"})
    repo.commit(["d"], name="d", message="first")
    (repo.root / "d/a.txt").write_text("2")
    repo.commit(["d"], name="d", message="second", tags=["rel"])
    repo.tag("d@v1", "old")
    return repo


def _sql(repo: Repo, statement: str, *args: object) -> None:
    repo.close()
    conn = sqlite3.connect(repo.dvlin_dir / "catalog.db")
    conn.execute(statement, args)
    conn.commit()
    conn.close()


def test_every_change_writes_exactly_one_entry(logged: Repo) -> None:
    got = [(e.seq, e.action, e.target) for e in entries(logged.catalog)]
    assert got == [
        (1, "commit", "d@v1"),
        (2, "commit", "d@v2"),
        (3, "tag", "d@rel"),
        (4, "tag", "d@old"),
    ]
    first = entries(logged.catalog)[0]
    assert first.prev == genesis(logged.config.repo_id)
    assert first.actor == "Test Author <test@example.org>"
    assert first.details["files"] == 1
    result = verify(logged.catalog)
    assert result.ok and result.entries == 4 and result.head_seq == 4


def test_nothing_to_commit_writes_nothing(logged: Repo) -> None:
    before = len(entries(logged.catalog))
    assert not logged.commit(["d"], name="d").created
    assert len(entries(logged.catalog)) == before


def test_filters(logged: Repo) -> None:
    assert [e.target for e in entries(logged.catalog, action="tag")] == ["d@rel", "d@old"]
    assert len(entries(logged.catalog, asset="d")) == 4
    assert entries(logged.catalog, asset="e") == []
    assert entries(logged.catalog, since="2999-01-01") == []


def test_an_edited_entry_is_caught(logged: Repo) -> None:
    _sql(logged, "UPDATE audit SET target = 'd@v9' WHERE seq = 2")
    result = verify(logged.catalog)
    assert not result.ok and result.first_bad_seq == 2 and "edited" in (result.problem or "")


def test_edited_details_are_caught(logged: Repo) -> None:
    _sql(logged, "UPDATE audit SET details = ? WHERE seq = 1", json.dumps({"files": 2}))
    assert verify(logged.catalog).first_bad_seq == 1


def test_a_deleted_entry_is_caught(logged: Repo) -> None:
    _sql(logged, "DELETE FROM audit WHERE seq = 2")
    result = verify(logged.catalog)
    assert not result.ok and result.first_bad_seq == 3 and "missing" in (result.problem or "")


def test_an_inserted_entry_is_caught(logged: Repo) -> None:
    # Make room at 3 and insert a forged entry with a self-consistent hash of its own.
    _sql(logged, "UPDATE audit SET seq = seq + 100 WHERE seq >= 3")
    _sql(logged, "UPDATE audit SET seq = seq - 99 WHERE seq >= 103")
    _sql(
        logged,
        "INSERT INTO audit (seq, at, actor, action, target, outcome, reason, details, prev, hash)"
        " VALUES (3, '2026-01-01T00:00:00Z', 'mallory', 'tag', 'd@fake', 'ok', NULL, '{}', ?, ?)",
        "0" * 64,
        "1" * 64,
    )
    result = verify(logged.catalog)
    assert not result.ok and result.first_bad_seq == 3


def test_swapped_entries_are_caught(logged: Repo) -> None:
    _sql(logged, "UPDATE audit SET seq = -1 WHERE seq = 2")
    _sql(logged, "UPDATE audit SET seq = 2 WHERE seq = 3")
    _sql(logged, "UPDATE audit SET seq = 3 WHERE seq = -1")
    result = verify(logged.catalog)
    assert not result.ok and result.first_bad_seq == 2


def test_a_cut_tail_needs_the_expected_head(logged: Repo) -> None:
    from dvlin.audit.log import append

    with logged.catalog.transaction():  # an entry that describes no catalog record
        append(logged.catalog, action="gc", target="plan-1", details={"objects": 0})
    head = verify(logged.catalog).head
    _sql(logged, "DELETE FROM audit WHERE seq = 5")
    assert verify(logged.catalog).ok  # a shorter chain is still a valid chain…
    result = verify(logged.catalog, expect_head=head)
    assert not result.ok and "cut off the end" in (result.problem or "")
    with pytest.raises(UsageError):
        verify(logged.catalog, expect_head="5:nothex")


def test_a_cut_tail_that_described_a_record_is_caught_by_the_replay(logged: Repo) -> None:
    _sql(logged, "DELETE FROM audit WHERE seq = 4")
    result = verify(logged.catalog)
    assert result.problem is None  # the chain alone is still valid…
    assert [m.label for m in result.mismatches] == ["tag d@old"]  # …but the tag is unaccounted


def test_cli(logged: Repo, cli: Cli) -> None:
    head = cli("audit", "head", ok=True).stdout.strip()
    assert head.startswith("4:") and len(head) == 2 + 64
    ok = cli("audit", "verify", "--expect-head", head, ok=True)
    assert "✓ 4 entries, chain intact, head " + head in ok.stdout
    doc = json.loads(cli("audit", "log", "--action", "commit", "--json", ok=True).stdout)
    assert [e["target"] for e in doc] == ["d@v1", "d@v2"]
    assert "d@old" in cli("audit", "log", "--asset", "d", ok=True).stdout
    _sql(logged, "UPDATE audit SET actor = 'someone else' WHERE seq = 1")
    bad = cli("audit", "verify")
    assert bad.exit_code == 1 and "entry 1 was edited" in bad.stderr
    assert json.loads(cli("audit", "verify", "--json").stdout)["first_bad_seq"] == 1


def test_contract_override_is_logged_with_its_reason(repo: Repo, tmp_path: Path) -> None:
    (repo.root / "dvlin.toml").write_text(
        '[assets.d]\npath = "d"\n[assets.d.quality]\nrequired_files = ["must.txt"]\n'
    )
    write_tree(repo.root, {"d/a.txt": "1"})
    from dvlin.errors import CheckFailedError

    with pytest.raises(CheckFailedError):
        repo.commit(["d"], name="d")
    assert entries(repo.catalog) == []  # refused: nothing written, nothing logged
    from dvlin.ops.commit import commit

    commit(repo, ["d"], name="d", force=True, reason="ticket DATA-231")
    got = [(e.action, e.target, e.outcome, e.reason) for e in entries(repo.catalog)]
    assert got == [
        ("commit", "d@v1", "ok", None),
        ("contract-override", "d@v1", "overridden", "ticket DATA-231"),
    ]
    assert verify(repo.catalog).ok


def test_runs_links_and_model_stages_are_logged(repo: Repo) -> None:
    from dvlin.ops.link import link
    from dvlin.ops.model import register, set_stage

    write_tree(repo.root, {"raw/a.txt": "1", "models/m.pt": "w", "other/b.txt": "2"})
    repo.commit(["raw"], name="raw")
    repo.commit(["other"], name="other")
    register(repo, ["models/m.pt"], name="m", trained_on=["raw"], stage="staging")
    set_stage(repo, "m", "production")
    link(repo, ["raw"], "other")
    actions = [(e.action, e.target) for e in entries(repo.catalog)]
    assert ("commit", "m@v1") in actions
    assert [a for a in actions if a[0] == "run"] and actions.count(("model-stage", "m@v1")) == 2
    assert ("link", "other@v1") in actions
    stages = [e.details["stage"] for e in entries(repo.catalog, action="model-stage")]
    assert stages == ["staging", "production"]
    assert verify(repo.catalog).ok
