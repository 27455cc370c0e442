"""The staging folder a checkout into a new folder writes into, and its clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvlin.errors import ConflictError
from dvlin.workspace import pending
from dvlin.workspace.folders import make_staging, publish, remove_staging


def test_staging_is_hidden_beside_the_target_and_published_whole(tmp_path: Path) -> None:
    target = tmp_path / "restored"
    staging = make_staging(str(target))
    assert os.path.dirname(staging) == str(tmp_path)
    assert pending.is_temporary_name(os.path.basename(staging))
    (Path(staging) / "a").mkdir()
    (Path(staging) / "a" / "f.txt").write_bytes(b"x")
    publish(staging, str(target))
    assert (target / "a" / "f.txt").read_bytes() == b"x" and not os.path.exists(staging)


def test_publish_refuses_a_target_that_appeared_meanwhile(tmp_path: Path) -> None:
    target = tmp_path / "restored"
    staging = make_staging(str(target))
    target.mkdir()
    (target / "theirs.txt").write_bytes(b"keep me")
    with pytest.raises(ConflictError, match="appeared during the checkout"):
        publish(staging, str(target))
    assert (target / "theirs.txt").read_bytes() == b"keep me"


def test_remove_staging_removes_only_the_targets_own_staging_folders(tmp_path: Path) -> None:
    target = tmp_path / "restored"
    # As killed checkouts leave them: named as make_staging names them, nobody holding them.
    left = [tmp_path / ".restored.dvlin-0badc0de", tmp_path / ".restored.dvlin-12345678"]
    for s in left:
        s.mkdir()
    (left[0] / "f.txt").write_bytes(b"half done")
    keep = [
        tmp_path / ".restored.dvlin-notahexx",  # not our name
        tmp_path / ".other.dvlin-0badc0de",  # another target's
        tmp_path / "restored.dvlin-0badc0de",  # not hidden
    ]
    for k in keep:
        k.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_bytes(b"x")
    (tmp_path / ".restored.dvlin-deadbeef").symlink_to(outside)  # a link is never followed
    remove_staging(str(target))
    assert not any(os.path.exists(s) for s in left)
    assert all(k.is_dir() for k in keep)
    assert (outside / "precious.txt").read_bytes() == b"x"


def test_a_running_checkouts_staging_folder_is_kept(tmp_path: Path) -> None:
    """Two checkouts into one new folder at once (a read-only repo takes no lock): the
    clean-up of one never removes what the other is writing; its own is let go on publish."""
    target = tmp_path / "restored"
    mine = make_staging(str(target))
    (Path(mine) / "f.txt").write_bytes(b"being written")
    remove_staging(str(target))  # as another checkout's clean-up would
    assert (Path(mine) / "f.txt").read_bytes() == b"being written"
    publish(mine, str(target))
    again = make_staging(str(target) + "-2")
    remove_staging(str(target) + "-2", again)
    assert sorted(os.listdir(tmp_path)) == ["restored"]


_HOLD = """
import sys, time
from pathlib import Path
from dvlin.workspace.folders import make_staging
staging = make_staging(sys.argv[1])
(Path(staging) / "f.txt").write_bytes(b"half done")
print(staging, flush=True)
time.sleep(60)
"""


def test_a_killed_checkouts_staging_folder_is_removed_and_a_live_ones_kept(
    tmp_path: Path,
) -> None:
    """The lock on a staging folder lives as long as its process: kept while it runs,
    removed by the next clean-up once it was killed (with no marker to say so)."""
    target = tmp_path / "restored"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(target)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        staging = proc.stdout.readline().strip()
        assert staging and os.path.isdir(staging)
        remove_staging(str(target))
        assert (Path(staging) / "f.txt").read_bytes() == b"half done"  # alive: kept
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while True:  # the kernel drops the lock as the killed process's descriptors close
        remove_staging(str(target))
        if not os.path.exists(staging) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert os.listdir(tmp_path) == []


def test_a_file_system_without_locks_still_stages_and_cleans_up_under_a_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flock refused (ENOLCK: some network and FUSE file systems): the checkout still
    writes aside, and what a killed one left goes only when a marker says so, since a
    running checkout's folder cannot be told from it."""
    import errno
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    target = tmp_path / "restored"
    staging = make_staging(str(target))
    (Path(staging) / "f.txt").write_bytes(b"x")
    remove_staging(str(target))
    assert os.path.isdir(staging)  # perhaps still being written: kept
    remove_staging(str(target), interrupted=True)
    assert os.listdir(tmp_path) == []
    staging = make_staging(str(target))
    publish(staging, str(target))
    assert os.listdir(tmp_path) == ["restored"]


def test_a_staging_folder_that_cannot_be_locked_for_another_reason_is_not_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    def refused(fd: int, operation: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(fcntl, "flock", refused)
    with pytest.raises(OSError) as err:
        make_staging(str(tmp_path / "restored"))
    assert err.value.errno == errno.EIO and os.listdir(tmp_path) == []
