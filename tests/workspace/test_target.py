"""check_target and check_paths: the folders and paths a checkout may never write."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dvlin.errors import ConflictError, IntegrityError, UsageError
from dvlin.workspace.target import check_paths, check_target


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "repo"
    (root / ".dvlin" / "objects").mkdir(parents=True)
    (tmp_path / "store").mkdir()
    return {
        "repo_root": str(root),
        "dvlin_dir": str(root / ".dvlin"),
        "store_root": str(tmp_path / "store"),
    }


@pytest.mark.parametrize(
    "rel",
    [
        "repo/.dvlin",
        "repo/.dvlin/objects",
        "repo/.dvlin/new/deeper",
        "store",
        "store/ab",
        ".",
        "repo",
    ],
)
def test_refused_for_to(layout: dict[str, str], tmp_path: Path, rel: str) -> None:
    with pytest.raises(UsageError, match="refusing to check out into"):
        check_target(str(tmp_path / rel), in_place=False, **layout)


@pytest.mark.parametrize("rel", ["repo/.git", "repo/.git/objects", "other/.dvlin/objects"])
def test_refused_inside_any_git_or_dvlin_folder(
    layout: dict[str, str], tmp_path: Path, rel: str
) -> None:
    with pytest.raises(UsageError, match="inside a"):
        check_target(str(tmp_path / rel), in_place=False, **layout)


@pytest.mark.parametrize("rel", ["out", "repo/data", "repo/.dvlinx", "stores", "x.git"])
def test_allowed_for_to(layout: dict[str, str], tmp_path: Path, rel: str) -> None:
    check_target(str(tmp_path / rel), in_place=False, **layout)


def test_in_place_may_be_the_repo_root(layout: dict[str, str]) -> None:
    check_target(layout["repo_root"], in_place=True, **layout)
    with pytest.raises(UsageError):
        check_target(layout["dvlin_dir"], in_place=True, **layout)


def test_a_store_inside_the_target_is_refused_even_in_place(
    layout: dict[str, str], tmp_path: Path
) -> None:
    store = Path(layout["repo_root"]) / "data" / "store"
    store.mkdir(parents=True)
    with pytest.raises(UsageError, match="holds the object store"):
        check_target(str(store.parent), in_place=True, **{**layout, "store_root": str(store)})


def test_links_are_resolved(layout: dict[str, str], tmp_path: Path) -> None:
    os.symlink(layout["dvlin_dir"], tmp_path / "alias")
    with pytest.raises(ConflictError, match="symlink"):
        check_target(str(tmp_path / "alias"), in_place=False, **layout)
    with pytest.raises(UsageError, match="inside the repo's .dvlin"):
        check_target(str(tmp_path / "alias" / "objects"), in_place=False, **layout)


def test_a_file_is_not_a_folder(layout: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        check_target(str(tmp_path / "f"), in_place=False, **layout)


def test_paths_through_dvlin_or_git() -> None:
    check_paths(["a", "b/c", ".dvlinx/a", "x.git"])
    for bad in (".dvlin", ".dvlin/config.toml", "a/.git/HEAD", ".git"):
        with pytest.raises(IntegrityError, match="lies inside"):
            check_paths([bad])


def test_in_place_never_through_a_linked_folder(layout: dict[str, str], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "events").mkdir(parents=True)
    os.symlink(elsewhere, Path(layout["repo_root"]) / "data")
    target = str(Path(layout["repo_root"]) / "data" / "events")
    with pytest.raises(ConflictError, match="data is a symlink"):
        check_target(target, in_place=True, **layout)
    check_target(target, in_place=False, **layout)  # a --to folder is the user's choice


_PARTS = [
    ".dvlin",
    ".git",
    ".dvlinx",
    "x.git",
    ".github",
    "a",
    "é",
    "日本",
    "line\nbreak",
    ".",
    "-",
]


def _verdict(check: Callable[[], None]) -> str | None:
    try:
        check()
    except IntegrityError as exc:
        return str(exc)
    return None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_PARTS), min_size=1, max_size=4).map("/".join), max_size=12)
)
def test_path_column_check_agrees_with_check_paths(paths: list[str]) -> None:
    # Both ways of checking a column (a Python list up to _LISTED_ROWS, a regular expression
    # above) refuse exactly what check_paths refuses, naming the first such path.
    import pyarrow as pa

    from dvlin.workspace import target

    column = pa.array(paths, pa.string())
    expected = _verdict(lambda: check_paths(paths))
    assert _verdict(lambda: target.check_path_column(column)) == expected
    with mock.patch.object(target, "_LISTED_ROWS", -1):
        assert _verdict(lambda: target.check_path_column(column)) == expected
