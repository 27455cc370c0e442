"""Remote gc: decided from the remote's records, never deleting what a kept version needs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Cli, snapshot, write_tree
from tests.remote.conftest import RemoteSpec, remote_fs


def _files(remote: RemoteSpec, folder: str) -> set[str]:
    fs, root = remote_fs(remote)
    try:
        return {p.split(f"/{folder}/", 1)[1] for p in fs.find(f"{root}/{folder}")}
    except FileNotFoundError:
        return set()


def _repo_with_two_pushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> Path:
    a = tmp_path / "a"
    a.mkdir()
    monkeypatch.chdir(a)
    cli("init", ok=True)
    (a / "dvlin.toml").write_text("[retention]\nkeep_last = 1\n")
    write_tree(a, {"data/ev/blob.bin": os.urandom(200_000)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("remote", "add", "origin", remote.url, *remote.flags, ok=True)
    cli("push", ok=True)
    write_tree(a, {"data/ev/blob.bin": os.urandom(200_000)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    cli("push", ok=True)
    return a


def test_remote_gc_deletes_only_what_expired_versions_alone_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _repo_with_two_pushes(tmp_path, monkeypatch, cli, remote)
    packs = _files(remote, "packs")
    assert len(packs) == 2
    # Nothing expired yet: nothing to delete.
    plan = json.loads(cli("gc", "--remote", "origin", "--json", ok=True).stdout)
    assert plan["files"] == 0
    # ev@v1 expires here; the expiry record travels with the push.
    cli("gc", "--apply", ok=True)
    cli("push", ok=True)
    plan = json.loads(cli("gc", "--remote", "origin", "--json", ok=True).stdout)
    assert (plan["files"], plan["kept_by_grace"]) == (0, 1)  # written just now: kept
    plan = json.loads(cli("gc", "--remote", "origin", "--grace", "0s", "--json", ok=True).stdout)
    assert (plan["applied"], plan["files"], plan["expired_versions"]) == (False, 1, 1)
    assert _files(remote, "packs") == packs  # a dry run deletes nothing
    done = json.loads(
        cli("gc", "--remote", "origin", "--apply", "--grace", "0s", "--json", ok=True).stdout
    )
    assert done["files"] == 1
    assert len(_files(remote, "packs")) == 1
    entries = json.loads(cli("audit", "log", "--action", "gc-remote", "--json").stdout)
    assert len(entries) == 1
    # The kept version still clones byte for byte; the expired one is refused, not broken.
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert snapshot(b / "data/ev") == snapshot(a / "data/ev")
    monkeypatch.chdir(b)
    assert cli("checkout", "ev@v1", "--to", str(tmp_path / "old")).exit_code == 3


def test_remote_gc_keeps_held_versions_and_young_orphans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    if remote.kind == "memory":
        pytest.skip("needs a push killed in another process")
    import signal
    import subprocess
    import sys
    import time

    a = _repo_with_two_pushes(tmp_path, monkeypatch, cli, remote)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    monkeypatch.chdir(b)
    cli("hold", "ev@v1", "--reason", "audit", ok=True)
    cli("push", ok=True)
    monkeypatch.chdir(a)
    cli("pull", ok=True)
    plan = json.loads(cli("gc", "--remote", "origin", "--grace", "0s", "--json", ok=True).stdout)
    assert plan["files"] == 0  # held by B: kept although A's retention would drop it

    # A push killed after its pack and segment landed, before the refs moved: in flight.
    write_tree(a, {"data/ev/new.bin": os.urandom(100_000)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    marker = tmp_path / "paused"
    env = {**os.environ, "DVLIN_TEST_PAUSE_BEFORE_REFS": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "dvlin", "push", "-q"], cwd=a, env=env)
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    young = json.loads(cli("gc", "--remote", "origin", "--apply", "--json", ok=True).stdout)
    assert (young["files"], young["kept_by_grace"]) == (0, 2)  # its pack and segment
    old = json.loads(
        cli("gc", "--remote", "origin", "--apply", "--grace", "0s", "--json", ok=True).stdout
    )
    assert old["orphans"] == 2
    # The rerun notices its journalled pack is gone and sends it again.
    cli("push", ok=True)
    c = tmp_path / "c"
    cli("clone", remote.url, str(c), *remote.flags, ok=True)
    assert snapshot(c / "data/ev") == snapshot(a / "data/ev")


def test_remote_gc_with_no_grace_never_breaks_a_push_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    """gc runs (from another clone, grace 0) while a push's pack is up and its refs are not."""
    import dvlin.ops.push as push_mod
    from dvlin import Repo
    from dvlin.ops.remote_gc import gc_remote

    a = _repo_with_two_pushes(tmp_path, monkeypatch, cli, remote)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    monkeypatch.chdir(a)
    write_tree(a, {"data/ev/new.bin": os.urandom(100_000)})
    cli("commit", "data/ev", "--name", "ev", ok=True)
    ran: list[int] = []
    import time

    def gc_now(variable: str) -> None:
        if ran:
            return
        with Repo.open(b) as other:
            done = gc_remote(other, "origin", apply=True, grace=0.0, now=time.time() + 60)
        ran.append(done.orphans)

    monkeypatch.setattr(push_mod, "pause_point", gc_now)
    cli("push", ok=True)
    assert ran and ran[0] >= 1  # the in-flight pack (and segment) were taken as orphans
    monkeypatch.chdir(tmp_path)
    c = tmp_path / "c"
    cli("clone", remote.url, str(c), *remote.flags, ok=True)
    assert snapshot(c / "data/ev") == snapshot(a / "data/ev")
    monkeypatch.chdir(c)
    cli("fsck", "--remote", "origin", ok=True)


def _holds(root: Path) -> list[str]:
    import sqlite3

    conn = sqlite3.connect(root / ".dvlin" / "catalog.db")
    try:
        return sorted(
            f"{a}@v{n}"
            for a, n in conn.execute(
                "SELECT asset, number FROM holds JOIN versions ON versions.id = holds.version"
            )
        )
    finally:
        conn.close()


@pytest.mark.parametrize("remote", ["file"], indirect=True)
def test_a_release_travels_and_lets_remote_gc_reclaim_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    a = _repo_with_two_pushes(tmp_path, monkeypatch, cli, remote)
    cli("hold", "ev@v1", "--reason", "legal", ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert _holds(b) == ["ev@v1"]

    cli("release", "ev@v1", "--reason", "case closed", ok=True)
    cli("gc", "--apply", ok=True)  # ev@v1 expires here now that nothing holds it
    pushed = json.loads(cli("push", "--json", ok=True).stdout)
    assert pushed["records"].get("release") == 1
    plan = json.loads(cli("gc", "--remote", "origin", "--grace", "0s", "--json", ok=True).stdout)
    assert plan["files"] == 1  # the hold no longer keeps ev@v1's pack on the remote
    assert json.loads(cli("push", "--json", ok=True).stdout)["up_to_date"] is True

    monkeypatch.chdir(b)
    cli("pull", ok=True)
    assert _holds(b) == []
    assert cli("audit", "verify").exit_code == 0
    monkeypatch.chdir(a)
    assert cli("audit", "verify").exit_code == 0


@pytest.mark.parametrize("remote", ["file"], indirect=True)
def test_a_hold_released_on_the_remote_is_not_brought_back_by_a_late_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, remote: RemoteSpec
) -> None:
    """A clone that fetches the hold and its release together ends with no hold."""
    _repo_with_two_pushes(tmp_path, monkeypatch, cli, remote)
    cli("hold", "ev@v1", "--reason", "legal", ok=True)
    cli("push", ok=True)
    cli("release", "ev@v1", "--reason", "case closed", ok=True)
    cli("push", ok=True)
    b = tmp_path / "b"
    cli("clone", remote.url, str(b), *remote.flags, ok=True)
    assert _holds(b) == []
    monkeypatch.chdir(b)
    assert cli("audit", "verify").exit_code == 0
