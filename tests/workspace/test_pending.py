"""The pending-checkout marker: durable, keyed by target, found by overlap."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvlin.errors import ConflictError
from dvlin.workspace import pending
from dvlin.workspace.pending import PendingCheckout


def _pending(target: str) -> PendingCheckout:
    return PendingCheckout("d", "d@v2", "a" * 32, target, "2026-01-01T00:00:00Z", 123)


def test_begin_find_finish(tmp_path: Path) -> None:
    dvlin = tmp_path / ".dvlin"
    dvlin.mkdir()
    assert pending.find(dvlin, "/w/d") is None
    pending.begin(dvlin, _pending("/w/d"))
    assert pending.find(dvlin, "/w/d") == _pending("/w/d")
    assert pending.find(dvlin, "/w/e") is None
    pending.begin(dvlin, _pending("/w/d"))  # a rerun replaces its own marker
    assert pending.pending_checkouts(dvlin) == [_pending("/w/d")]
    pending.finish(dvlin, "/w/d")
    pending.finish(dvlin, "/w/d")  # finishing twice is harmless
    assert pending.pending_checkouts(dvlin) == []
    assert [p.name for p in (dvlin / "checkouts").iterdir()] == []  # no temporary files left


def test_overlap_covers_inside_and_around(tmp_path: Path) -> None:
    pending.begin(tmp_path, _pending("/w/data/d"))
    for path in ("/w/data/d", "/w/data", "/w", "/w/data/d/sub"):
        assert pending.overlapping(tmp_path, path) == [_pending("/w/data/d")], path
    for path in ("/w/data/dd", "/w/other", "/w/data/e"):
        assert pending.overlapping(tmp_path, path) == [], path
    with pytest.raises(ConflictError, match="checkout of d@v2 interrupted; rerun it or"):
        pending.refuse_overlapping(tmp_path, "/w")
    pending.refuse_overlapping(tmp_path, "/w/other")


def test_message_names_the_version() -> None:
    assert _pending("/x").message == (
        "checkout of d@v2 interrupted; rerun it or `dvlin checkout --force`"
    )


@pytest.mark.parametrize(
    ("name", "temporary"),
    [
        (".a.txt.dvlin-0123abcd", True),
        (".x.dvlin-deadbeef", True),
        ("a.txt", False),
        (".a.txt.dvlin-0123abc", False),
        ("a.txt.dvlin-0123abcd", False),
        (".a.txt.dvlin-0123ABCD", False),
    ],
)
def test_temporary_names(name: str, temporary: bool) -> None:
    assert pending.is_temporary_name(name) is temporary


def test_remove_temporary_beside_takes_only_a_file_roots_own_temporary_names(
    tmp_path: Path,
) -> None:
    from dvlin.workspace.pending import remove_temporary_beside

    (tmp_path / "sub").mkdir()
    debris = [tmp_path / ".big.bin.dvlin-1a2b3c4d", tmp_path / "sub" / ".m.pt.dvlin-00ff00ff"]
    kept = [
        tmp_path / ".other.dvlin-1a2b3c4d",  # another file's temporary name
        tmp_path / ".big.bin.dvlin-notahex0",  # not a name dvlin writes
        tmp_path / "big.bin",
        tmp_path / "sub" / "m.pt",
    ]
    for p in debris + kept:
        p.write_bytes(b"x")
    (tmp_path / ".big.bin.dvlin-deadbeef").mkdir()  # a folder: never dvlin's file debris
    assert remove_temporary_beside(str(tmp_path), ["big.bin", "sub/m.pt", "gone/x", "."]) == 2
    assert not any(p.exists() for p in debris)
    assert all(p.exists() for p in kept)
    assert (tmp_path / ".big.bin.dvlin-deadbeef").is_dir()
