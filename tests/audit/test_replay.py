"""The replay: every catalog row the audit chain describes must be exactly what it says.

Each test edits the catalog behind dvlin's back with sqlite3 — the audit table untouched — and
expects ``audit verify`` and ``fsck`` to exit 4 naming the row.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from dvlin import Repo
from dvlin.audit.verify import verify
from dvlin.ops import gc
from dvlin.ops.commit import commit
from dvlin.ops.model import register, set_stage
from dvlin.ops.retention import hold, release
from tests.conftest import Cli, write_tree


@pytest.fixture
def busy(repo: Repo) -> Repo:
    """d@v1 (committed over a failed contract), d@v2 tagged release-1, a hold, a staged model."""
    (repo.root / "dvlin.toml").write_text(
        '[assets.d]\npath = "d"\n[assets.d.quality]\nrequired_files = ["must.txt"]\n'
    )
    write_tree(repo.root, {"d/a.txt": "1", "models/m.pt": "w"})
    commit(repo, ["d"], name="d", message="first", force=True, reason="ticket DATA-231")
    write_tree(repo.root, {"d/a.txt": "2", "d/must.txt": "ok"})
    repo.commit(["d"], name="d", message="second", tags=["release-1"])
    repo.tag("d@v1", "old")
    hold(repo, "d@v2", reason="litigation L-17")
    hold(repo, "d@v1", reason="audit")
    release(repo, "d@v1", reason="done")
    register(repo, ["models/m.pt"], name="m", trained_on=["d"], stage="staging")
    set_stage(repo, "m", "production")
    assert verify(repo.catalog, algorithm=repo.config.hash).ok
    repo.close()
    return repo


def _sql(repo: Repo, statement: str, *args: object) -> None:
    repo.close()
    conn = sqlite3.connect(repo.dvlin_dir / "catalog.db")
    conn.execute(statement, args)
    conn.commit()
    conn.close()


def _id(repo: Repo, ref: str) -> str:
    return repo.resolve(ref).id


def _caught(repo: Repo, cli: Cli, row: str) -> None:
    result = verify(repo.catalog, algorithm=repo.config.hash)
    assert not result.ok and result.problem is None  # the chain is whole; the rows are not
    assert any(m.label == row for m in result.mismatches), result.mismatches
    repo.close()
    r = cli("audit", "verify")
    assert r.exit_code == 4 and row in r.stderr, r.output
    doc = json.loads(cli("audit", "verify", "--json").stdout)
    assert doc["ok"] is False and row in [m["row"] for m in doc["mismatches"]]
    f = cli("fsck")
    assert f.exit_code == 4 and f"✗ record: {row}" in f.stdout, f.output


def test_moving_a_tag_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(busy, "UPDATE tags SET version = ? WHERE name = 'release-1'", _id(busy, "d@v1"))
    _caught(busy, cli, "tag d@release-1")


def test_inserting_a_tag_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(
        busy,
        "INSERT INTO tags (asset, name, version, created_at, author) VALUES ('d', 'sneaky', ?, "
        "'2026-01-01T00:00:00Z', 'mallory')",
        _id(busy, "d@v1"),
    )
    _caught(busy, cli, "tag d@sneaky")
    assert "has no audit entry" in cli("audit", "verify").stderr


def test_removing_an_override_is_caught(busy: Repo, cli: Cli) -> None:
    v1 = busy.resolve("d@v1")
    info = {k: v for k, v in v1.info.to_dict().items() if k != "override"}
    _sql(busy, "UPDATE versions SET info = ? WHERE id = ?", json.dumps(info), v1.id)
    _caught(busy, cli, "override on d@v1")
    _caught(busy, cli, "version d@v1")  # the row itself changed too


def test_rewriting_a_message_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(busy, "UPDATE versions SET message = 'nothing to see' WHERE number = 2 AND asset = 'd'")
    _caught(busy, cli, "version d@v2")
    assert "does not hash from its contents" in cli("audit", "verify").stderr


def test_editing_a_version_row_outside_its_id_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(busy, "UPDATE versions SET files = 99 WHERE number = 1 AND asset = 'd'")
    _caught(busy, cli, "version d@v1")
    assert "does not match audit entry 1" in cli("audit", "verify").stderr


def test_deleting_a_hold_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(busy, "DELETE FROM holds WHERE version = ?", _id(busy, "d@v2"))
    _caught(busy, cli, "hold on d@v2")
    assert "is gone, but audit entry" in cli("audit", "verify").stderr


def test_reinstating_a_released_hold_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(
        busy,
        "INSERT INTO holds (version, reason, author, created_at) VALUES (?, 'x', 'y', 'z')",
        _id(busy, "d@v1"),
    )
    _caught(busy, cli, "hold on d@v1")


def test_changing_a_stage_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(busy, "UPDATE model_stages SET stage = 'archived' WHERE stage = 'production'")
    seq = busy.catalog.conn.execute("SELECT seq FROM model_stages WHERE stage = 'archived'")
    row = f"stage #{seq.fetchone()[0]} of m@v1"
    _caught(busy, cli, row)


def test_expiry_is_replayed(repo: Repo, cli: Cli) -> None:
    for i in range(2):
        write_tree(repo.root, {"d/n.txt": str(i)})
        repo.commit(["d"], name="d")
    (repo.root / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    gc.apply(repo)
    assert verify(repo.catalog, algorithm=repo.config.hash).ok
    _sql(repo, "UPDATE versions SET expired_at = NULL")
    _caught(repo, cli, "expiry of d@v1")


def test_a_sound_repo_verifies(busy: Repo, cli: Cli) -> None:
    assert "chain intact" in cli("audit", "verify", ok=True).stdout
    assert "audit: intact" in cli("fsck", ok=True).stdout


def _run_id(repo: Repo) -> str:
    return str(repo.catalog.conn.execute("SELECT id FROM runs").fetchone()[0])


def test_editing_a_run_is_caught(busy: Repo, cli: Cli) -> None:
    run = _run_id(busy)
    _sql(busy, 'UPDATE runs SET params = \'{"lr": "9"}\' WHERE id = ?', run)
    _caught(busy, cli, f"run {run}")


def test_removing_a_lineage_edge_is_caught(busy: Repo, cli: Cli) -> None:
    run = _run_id(busy)
    _sql(busy, "DELETE FROM edges WHERE kind = 'output'")
    _caught(busy, cli, f"run {run}")


def test_inserting_a_derived_from_link_is_caught(busy: Repo, cli: Cli) -> None:
    _sql(
        busy,
        "INSERT INTO edges (src, dst, kind) VALUES (?, ?, 'derived_from')",
        _id(busy, "d@v1"),
        _id(busy, "m@v1"),
    )
    _caught(busy, cli, "derived_from links into m@v1")


def test_links_made_by_dvlin_verify(busy: Repo) -> None:
    from dvlin.ops.link import link

    link(busy, ["d@v1"], "m@v1")
    link(busy, ["d@v2"], "m@v1")
    link(busy, ["d@v1"], "d@v2", transform="copy")
    assert verify(busy.catalog, algorithm=busy.config.hash).ok


def _cells(repo: Repo) -> list[tuple[str, str]]:
    conn = sqlite3.connect(repo.dvlin_dir / "catalog.db")
    tables = ("versions", "tags", "holds", "model_stages", "runs", "edges")
    found = [(t, r[1]) for t in tables for r in conn.execute(f"PRAGMA table_info({t})")]
    conn.close()
    return found


def test_any_edit_to_any_recorded_column_is_caught(busy: Repo) -> None:
    """The class, not the examples: change one cell of every column of every recorded table."""
    db = busy.dvlin_dir / "catalog.db"
    pristine = db.read_bytes()
    missed = []
    for table, column in _cells(busy):
        busy.close()
        db.write_bytes(pristine)
        for extra in ("-wal", "-shm"):
            (db.parent / f"catalog.db{extra}").unlink(missing_ok=True)
        conn = sqlite3.connect(db)
        rowid, value = conn.execute(
            f"SELECT rowid, {column} FROM {table} ORDER BY rowid LIMIT 1"
        ).fetchone()
        new = value + 1000 if isinstance(value, int) else ("x" if value is None else value + "x")
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (new, rowid))
        conn.commit()
        conn.close()
        result = verify(busy.catalog, algorithm=busy.config.hash)
        if result.ok or result.problem is not None:
            missed.append(f"{table}.{column}")
    assert missed == []
