"""Audit across clones: each clone's chain travels with its pushes and is verified on arrival."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Cli, write_tree
from tests.remote.conftest import RemoteSpec


@pytest.mark.parametrize("remote", ["file"], indirect=True)
def test_other_clones_chains_are_kept_apart_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("tag", "ev@v1", "gold", ok=True)
    cli("remote", "add", "origin", remote.url, ok=True)
    cli("push", ok=True)
    a_id = json.loads(cli("audit", "log", "--json").stdout)
    a_clone = (a / ".dvlin/config.toml").read_text().split('repo_id = "')[1].split('"')[0]

    b = tmp_path / "b"
    cli("clone", remote.url, str(b), ok=True)
    monkeypatch.chdir(b)
    verified = json.loads(cli("audit", "verify", "--json", ok=True).stdout)
    assert verified["ok"] is True
    assert verified["clones"] == [
        {"clone": a_clone, "ok": True, "entries": len(a_id), "head": f"{a_id[-1]['seq']}:"
         f"{a_id[-1]['hash']}", "problem": None}
    ]  # fmt: skip
    # B's own chain holds only B's entries; A's are listed with A's clone id.
    own = json.loads(cli("audit", "log", "--json").stdout)
    assert all(e["action"] != "commit" for e in own)
    merged = json.loads(cli("audit", "log", "--clones", "--json").stdout)
    assert [(e["clone"], e["action"]) for e in merged if e["clone"] == a_clone] == [
        (a_clone, "commit"),
        (a_clone, "tag"),
    ]

    # An edited entry of A's chain, as B holds it, fails verification.
    conn = sqlite3.connect(b / ".dvlin/catalog.db")
    entry = json.loads(conn.execute("SELECT entry FROM remote_audit WHERE seq = 1").fetchone()[0])
    entry["actor"] = "Mallory"
    conn.execute("UPDATE remote_audit SET entry = ? WHERE seq = 1", (json.dumps(entry),))
    conn.commit()
    conn.close()
    ran = cli("audit", "verify")
    assert ran.exit_code == 1
    assert "entry 1 was edited" in ran.stderr


@pytest.mark.parametrize("remote", ["memory"], indirect=True)
def test_a_clone_whose_chain_diverges_from_the_remote_cannot_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    write_tree(a, {"data/ev/f.txt": "x\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, ok=True)
    cli("push", ok=True)
    # Rewrite history locally (as a restored or edited catalog would).
    conn = sqlite3.connect(a / ".dvlin/catalog.db")
    conn.execute(
        "UPDATE audit SET hash = CASE substr(hash, 1, 1) WHEN '0' THEN '1' ELSE '0' END "
        "|| substr(hash, 2) WHERE seq = 1"
    )
    conn.commit()
    conn.close()
    write_tree(a, {"data/ev/g.txt": "y\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    ran = cli("push")
    assert ran.exit_code == 5
    assert "audit chain" in ran.stderr
