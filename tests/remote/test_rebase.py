"""``pull --rebase``: the loser of a head race replays its versions on the remote head."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Cli, snapshot, write_tree
from tests.remote.conftest import RemoteSpec


def _setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> tuple[Path, Path]:
    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    write_tree(a, {"data/ev/base.txt": "base\n", "data/ev/shared.txt": "v1\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    monkeypatch.chdir(a)
    write_tree(a, {"data/ev/from-a.txt": "a\n"})
    cli("commit", "data/ev", "--name", "ev", "-m", "a's change", ok=True)
    cli("push", ok=True)
    monkeypatch.chdir(b)
    return a, b


def _ids(root: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(root / ".dvlin/catalog.db")
    try:
        return conn.execute("SELECT id, number FROM versions ORDER BY number").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("remote", ["memory", "s3"], indirect=True)
def test_the_loser_of_a_head_race_pushes_after_pull_rebase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a, b = _setup(tmp_path, monkeypatch, cli, remote)
    write_tree(b, {"data/ev/from-b.txt": "b\n"})
    cli("commit", "data/ev", "--name", "ev", "-m", "b's change", ok=True)
    cli("tag", "ev@v2", "mine", ok=True)
    ran = cli("push")
    assert ran.exit_code == 5 and "ev" in ran.stderr
    assert cli("pull").exit_code == 5  # without --rebase: said, nothing changed

    pulled = json.loads(cli("pull", "--rebase", "--json", ok=True).stdout)
    assert pulled["rebased"][0]["new"] == ["ev@v3"]
    assert pulled["rebased"][0]["checked_out"] is True
    assert sorted(p.name for p in (b / "data/ev").iterdir()) == [
        "base.txt", "from-a.txt", "from-b.txt", "shared.txt",
    ]  # fmt: skip
    assert cli("status", "--json", ok=True).stdout.count('"clean"') >= 1
    show = json.loads(cli("show", "ev@mine", "--json", ok=True).stdout)
    assert show["number"] == 3 and show["message"] == "b's change"
    cli("push", ok=True)
    assert cli("audit", "verify").exit_code == 0

    monkeypatch.chdir(a)
    cli("pull", ok=True)
    assert _ids(a) == _ids(b)
    assert snapshot(a / "data/ev") == snapshot(b / "data/ev")


@pytest.mark.parametrize("remote", ["file"], indirect=True)
def test_rebase_stops_on_paths_changed_on_both_sides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a, b = _setup(tmp_path, monkeypatch, cli, remote)
    monkeypatch.chdir(a)
    write_tree(a, {"data/ev/shared.txt": "a's edit\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("push", ok=True)
    monkeypatch.chdir(b)
    write_tree(b, {"data/ev/shared.txt": "b's edit\n"})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    before = _ids(b)
    ran = cli("pull", "--rebase")
    assert ran.exit_code == 5
    assert "shared.txt" in ran.stderr and "nothing was changed" in ran.stderr
    assert _ids(b) == before
    assert (b / "data/ev/shared.txt").read_text() == "b's edit\n"
