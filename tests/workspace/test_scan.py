"""Scanning a tree: what is found, how it is described, and what is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dvlin.errors import UsageError
from dvlin.objects.manifest import DIR_MODE, EXEC_MODE, FILE_MODE, LINK_MODE
from dvlin.workspace import scan as scan_module
from dvlin.workspace.scan import scan
from dvlin.workspace.scanned import Columns
from tests.conftest import write_tree


def found(base: Path, roots: tuple[str, ...] = (".",), **kw: object) -> dict[str, tuple]:
    return {
        i.path: (i.type, i.mode, i.size, i.target)
        for i in scan(str(base), roots, **kw)  # type: ignore[arg-type]
    }


def test_files_folders_and_links_with_git_modes(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "a.txt": "hello",
            "run.sh": ("exec", b"#!/bin/sh\n"),
            "sub/deep/b.bin": b"12345678",
            "empty": {},
            "link": ("link", "sub/deep/b.bin"),
        },
    )
    assert found(tmp_path) == {
        "a.txt": ("file", FILE_MODE, 5, None),
        "run.sh": ("file", EXEC_MODE, 10, None),
        "sub": ("dir", DIR_MODE, 0, None),
        "sub/deep": ("dir", DIR_MODE, 0, None),
        "sub/deep/b.bin": ("file", FILE_MODE, 8, None),
        "empty": ("dir", DIR_MODE, 0, None),
        "link": ("link", LINK_MODE, 0, "sub/deep/b.bin"),
    }


def test_parents_come_before_their_children(tmp_path: Path) -> None:
    write_tree(tmp_path, {"x/y/z/f": "1", "x/g": "2"})
    paths = [i.path for i in scan(str(tmp_path), ["."])]
    for p in paths:
        if "/" in p:
            assert paths.index(p.rpartition("/")[0]) < paths.index(p)


def test_dvlin_and_git_folders_are_never_versioned(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {".dvlin/catalog.db": "x", ".git/HEAD": "ref", "kept/.git/x": "y", "a": "1"}
    )
    assert set(found(tmp_path)) == {"a", "kept"}


def test_named_roots_are_reported_and_missing_roots_yield_nothing(tmp_path: Path) -> None:
    write_tree(tmp_path, {"d/a": "1", "f.txt": "2", "other/b": "3"})
    assert set(found(tmp_path, ("d", "f.txt", "missing"))) == {"d", "d/a", "f.txt"}


def test_a_link_out_of_the_tree_is_kept_as_a_link(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a": "1", "out": ("link", "../../etc/passwd")})
    assert found(tmp_path)["out"] == ("link", LINK_MODE, 0, "../../etc/passwd")
    assert found(tmp_path, strict=False)["out"] == ("link", LINK_MODE, 0, "../../etc/passwd")


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="pipe is not a regular file, folder or symlink"):
        found(tmp_path)


def test_a_backslash_in_a_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a\\b").write_text("x")
    with pytest.raises(UsageError, match="contains a backslash"):
        found(tmp_path)


def test_a_link_into_the_local_store_stands_for_the_object(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "ab").mkdir(parents=True)
    (store / "ab" / "cdef").write_bytes(b"object bytes")
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(store / "ab" / "cdef", work / "data.bin")
    (item,) = scan(str(work), ["."], store_root=str(store))
    assert (item.path, item.type, item.size, item.oid) == ("data.bin", "file", 12, "abcdef")


def test_a_walk_helper_s_answer_of_no_rows_is_an_answer_not_a_failure() -> None:
    # The answer's body is read into a page-aligned buffer; none is made for zero bytes, and
    # an empty folder's answer must still be taken (not walked again as if garbled).
    read_end, write_end = os.pipe()
    try:
        scan_module._send(write_end, Columns())
        os.close(write_end)
        got = scan_module._receive(read_end)
    finally:
        os.close(read_end)
    assert got is not None
    assert got[0] == 0
    assert len(got[1]) == 0
