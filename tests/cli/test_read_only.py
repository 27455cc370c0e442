"""A read-only repo (read-only mount, CI cache): reading commands work, writing ones say so."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dvlin.catalog import db as catalog_module
from dvlin.catalog.catalog import Catalog
from dvlin.errors import ExitCode
from tests.conftest import Cli, kill_when_paused, write_tree

READING = [
    ["log"],
    ["log", "d"],
    ["show", "d"],
    ["ls"],
    ["ls", "d"],
    ["tags"],
    ["status"],
    ["lineage", "d"],
    ["stale"],
    ["retention"],
    ["check"],
    ["fsck"],
    ["audit", "verify"],
    ["model", "list"],
    ["config", "get", "storage.fsync"],
    ["config", "list"],
    ["lock", "--check"],
    ["du"],
    ["checkout", "--lock"],
]
WRITING = [
    ["commit", "d"],
    ["tag", "d", "first"],
    ["checkout", "d", "--force"],
    ["hold", "d", "--reason", "audit"],
    ["gc"],
    ["config", "set", "storage.fsync", "false"],
    ["rm", "d", "--keep-files"],
    ["mv", "d", "e"],
    ["tag", "--delete", "d", "first"],
    ["lock"],
]


@pytest.fixture
def work(work: Path, cli: Cli) -> Path:
    """The shared initialised repo (conftest), with this module's starting state."""
    root = work
    write_tree(root, {"d/a.txt": "a\n"})
    cli("commit", "d", "-m", "first", ok=True)
    write_tree(root, {"d/b.txt": "b\n"})  # status has something to hash
    return root


def _ro_mount_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind / /mnt 2>/dev/null || exit 1"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _ro_mount_works(), reason="needs unshare -m and mount (root)")
@pytest.mark.parametrize("args", READING + WRITING, ids=lambda a: " ".join(a))
def test_commands_on_a_read_only_mount(work: Path, args: list[str]) -> None:
    """The real thing: the repo folder bind-mounted read-only in a private mount namespace."""
    script = (
        f'mount --bind "{work}" "{work}" && mount -o remount,bind,ro "{work}" && '
        f'cd "{work}" && exec "{sys.executable}" -m dvlin "$@"'
    )
    ran = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DVLIN_AUTHOR": "Test Author <test@example.org>"},
        check=False,
    )
    assert "Traceback" not in ran.stderr
    if args in READING:
        assert ran.returncode in (0, 1), ran.stderr  # status/check may report, never crash
        assert ran.stderr == "" or not ran.stderr.startswith("error:"), ran.stderr
    else:
        assert ran.returncode == ExitCode.USAGE, ran.stderr
        assert ran.stderr.startswith("error: the repo is read-only"), ran.stderr
        assert "hint: " in ran.stderr


def _refuse_writes(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Simulate a read-only filesystem under ``root``: writes there fail with EROFS."""
    real_connect = catalog_module._connect
    real_open = os.open

    def connect(path: Path, *, timeout: float) -> sqlite3.Connection:
        if str(path).startswith(str(root)):
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(path, timeout=timeout)

    def os_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).startswith(str(root)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    real_access = os.access

    def access(path, mode, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).startswith(str(root)) and mode & os.W_OK:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(catalog_module, "_connect", connect)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "access", access)


@pytest.mark.parametrize("args", READING, ids=lambda a: " ".join(a))
def test_reading_commands_when_writes_fail(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    _refuse_writes(monkeypatch, work / ".dvlin")
    before = (work / ".dvlin" / "catalog.db").read_bytes()
    ran = cli(*args)
    assert ran.exit_code in (0, 1), ran.output
    assert not ran.stderr.startswith("error:"), ran.stderr
    assert (work / ".dvlin" / "catalog.db").read_bytes() == before


@pytest.mark.parametrize("args", WRITING, ids=lambda a: " ".join(a))
def test_writing_commands_say_the_repo_is_read_only(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    _refuse_writes(monkeypatch, work / ".dvlin")
    ran = cli(*args)
    assert ran.exit_code == ExitCode.USAGE, ran.output
    assert ran.stderr.startswith("error: the repo is read-only: cannot write "), ran.stderr
    assert str(work / ".dvlin") in ran.stderr
    assert "hint: " in ran.stderr


def test_writing_commands_report_json(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    _refuse_writes(monkeypatch, work / ".dvlin")
    ran = cli("commit", "d", "--json")
    assert ran.exit_code == ExitCode.USAGE
    assert json.loads(ran.stdout)["kind"] == "ReadOnlyRepoError"


def test_a_read_only_catalog_refuses_transactions(work: Path) -> None:
    """The catalog opened read-only reads, and its first write is a clear error."""
    from dvlin.errors import ReadOnlyRepoError

    path = work / ".dvlin" / "catalog.db"
    conn = catalog_module._connect_read_only(path, timeout=1)
    catalog = Catalog(conn, path, read_only=True)
    try:
        assert catalog.asset_names() == ["d"]
        with pytest.raises(ReadOnlyRepoError), catalog.transaction():
            pass
    finally:
        catalog.close()


def test_a_wal_that_cannot_be_written_still_reads(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes still in the WAL are read (mode=ro), not silently skipped (immutable)."""
    path = work / ".dvlin" / "catalog.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE versions SET message = 'from the wal'")
    wal = path.with_name("catalog.db-wal")
    assert wal.stat().st_size > 0
    try:
        real_connect = catalog_module._connect

        def connect(p: Path, *, timeout: float) -> sqlite3.Connection:
            if p == path:
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return real_connect(p, timeout=timeout)

        monkeypatch.setattr(catalog_module, "_connect", connect)
        ran = cli("log", "d")
        assert ran.exit_code == 0, ran.output
        assert "from the wal" in ran.stdout
    finally:
        writer.close()


def test_a_read_only_repo_restores_into_a_new_folder(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``checkout REF --to NEW`` needs nothing written in the repo: the folder is made aside
    and published whole, so a repo this user cannot write (a team's share) still restores."""
    _refuse_writes(monkeypatch, work / ".dvlin")
    before = sorted(
        (p.relative_to(work / ".dvlin"), p.read_bytes())
        for p in (work / ".dvlin").rglob("*")
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))  # SQLite's shared memory
    )
    target = tmp_path / "elsewhere" / "d-v1"
    ran = cli("checkout", "d@v1", "--to", str(target))
    assert ran.exit_code == 0, ran.output
    assert (target / "a.txt").read_text() == "a\n"
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    after = sorted(
        (p.relative_to(work / ".dvlin"), p.read_bytes())
        for p in (work / ".dvlin").rglob("*")
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))  # SQLite's shared memory
    )
    assert after == before  # no lock file, no pending marker, no catalog row
    assert [p.name for p in target.parent.iterdir()] == ["d-v1"]  # no staging folder left


@pytest.mark.parametrize("where", ["existing", "in place"])
def test_a_read_only_repo_refuses_a_checkout_into_a_folder_that_exists(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    """An existing folder may hold a half checkout only a pending marker could tell: refused,
    with the way that works."""
    _refuse_writes(monkeypatch, work / ".dvlin")
    args = ["checkout", "d@v1", "--force"]
    if where == "existing":
        (tmp_path / "old").mkdir()
        (tmp_path / "old" / "keep.txt").write_text("mine\n")
        args = ["checkout", "d@v1", "--to", str(tmp_path / "old")]
    ran = cli(*args)
    assert ran.exit_code == ExitCode.USAGE, ran.output
    assert ran.stderr.startswith("error: the repo is read-only: cannot write "), ran.stderr
    assert "hint: from a read-only repo, check out into a new folder" in ran.stderr
    if where == "existing":
        assert [p.name for p in (tmp_path / "old").iterdir()] == ["keep.txt"]


@pytest.mark.skipif(not _ro_mount_works(), reason="needs unshare -m and mount (root)")
def test_a_read_only_mount_restores_into_a_new_folder(work: Path, tmp_path: Path) -> None:
    """The real thing: a read-only bind mount of the repo, a new folder elsewhere."""
    target = tmp_path / "out"
    script = (
        f'mount --bind "{work}" "{work}" && mount -o remount,bind,ro "{work}" && '
        f'cd "{work}" && exec "{sys.executable}" -m dvlin checkout d@v1 --to "{target}"'
    )
    ran = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "DVLIN_AUTHOR": "Test Author <test@example.org>"},
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert (target / "a.txt").read_text() == "a\n"


def test_a_folder_that_appears_during_a_read_only_restore_is_left_alone(
    work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without the lock and a pending marker only a folder written aside is safe: one that
    appears after the check (another process) stops the checkout (exit 5) and is not touched."""
    from dvlin.ops import checkout as checkout_op

    _refuse_writes(monkeypatch, work / ".dvlin")
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / "out"
    real_load = checkout_op.load_manifest

    def load_while_someone_writes(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not target.exists():
            target.mkdir()  # empty: nothing a plan would refuse, so only the lock could tell
        return real_load(*args, **kwargs)

    monkeypatch.setattr(checkout_op, "load_manifest", load_while_someone_writes)
    ran = cli("checkout", "d@v1", "--to", str(target))
    assert ran.exit_code == ExitCode.CONFLICT, ran.output
    assert ran.stderr.startswith(f"error: {target} appeared during the checkout"), ran.stderr
    assert list(target.iterdir()) == []
    assert [p.name for p in target.parent.iterdir()] == ["out"]  # no staging folder


@pytest.mark.skipif(not _ro_mount_works(), reason="needs unshare -m and mount (root)")
def test_a_killed_read_only_restore_leaves_nothing_after_a_rerun(
    work: Path, tmp_path: Path
) -> None:
    """Killed mid-tree (SIGKILL), a checkout from a read-only repo leaves its staging folder
    and no marker; the rerun removes it (nothing holds its lock) and publishes the tree."""
    from dvlin.faults import IN_CHECKOUT

    (tmp_path / "to").mkdir()
    target, paused = tmp_path / "to" / "out", tmp_path / "paused"
    script = (
        f'mount --bind "{work}" "{work}" && mount -o remount,bind,ro "{work}" && '
        f'cd "{work}" && exec "{sys.executable}" -m dvlin checkout d@v1 --to "{target}"'
    )
    env = {**os.environ, "DVLIN_AUTHOR": "Test Author <test@example.org>"}
    kill_when_paused([], work, IN_CHECKOUT, paused, command=["unshare", "-m", "sh", "-c", script])
    (left,) = os.listdir(tmp_path / "to")
    assert left.startswith(".out.dvlin-") and os.listdir(tmp_path / "to" / left) == ["a.txt"]
    ran = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert os.listdir(tmp_path / "to") == ["out"]
    assert (target / "a.txt").read_text() == "a\n"
