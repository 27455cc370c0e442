"""The staging folder a checkout into a new folder writes into, and its clean-up."""

from __future__ import annotations

import os
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
    left = [make_staging(str(target)) for _ in range(2)]
    (Path(left[0]) / "f.txt").write_bytes(b"half done")
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
