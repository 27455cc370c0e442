"""The walk split across two processes gives exactly the rows of a walk in one."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from dvlin.errors import UsageError
from dvlin.workspace import scan as scan_module
from dvlin.workspace.scan import Columns, scan_columns
from tests.workspace.walk_trees import TREE, build, gone


def rows(cols: Columns) -> list[tuple[object, ...]]:
    return list(cols)


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the walkers forked (and the walk runs with two workers)."""
    monkeypatch.setenv("DVLIN_SCAN_WORKERS", "2")
    # Threads other tests left behind would rightly stop the fork; these tests are about it.
    monkeypatch.setattr(scan_module, "_threads_running", lambda: False)
    started: list[int] = []
    real = scan_module._Child.start

    def spy(*args: object) -> scan_module._Child | None:
        child = real(*args)  # type: ignore[arg-type]
        if child is not None:
            started.append(child.pid)
        return child

    monkeypatch.setattr(scan_module._Child, "start", staticmethod(spy))
    return started


def walk(base: Path, roots: tuple[str, ...] = (".",), *, workers: str) -> Columns:
    old = os.environ.get("DVLIN_SCAN_WORKERS")
    os.environ["DVLIN_SCAN_WORKERS"] = workers
    try:
        return scan_columns(str(base), roots, strict=False)
    finally:
        if old is None:
            del os.environ["DVLIN_SCAN_WORKERS"]
        else:
            os.environ["DVLIN_SCAN_WORKERS"] = old


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(TREE)
def test_a_split_walk_gives_the_rows_of_a_single_walk(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    tree: list[tuple[list[str], str]],
) -> None:
    monkeypatch.setattr(scan_module, "_threads_running", lambda: False)
    base = tmp_path_factory.mktemp("t")
    build(base, tree)
    single = walk(base, workers="1")
    split = walk(base, workers="2")
    assert rows(split) == rows(single)
    assert sorted(r[0] for r in rows(single)) == sorted(  # type: ignore[type-var]
        os.path.relpath(os.path.join(d, n), base) for d, ds, fs in os.walk(base) for n in ds + fs
    )


def test_the_split_forks_one_walker_and_reaps_it(tmp_path: Path, forks: list[int]) -> None:
    for i in range(6):
        (tmp_path / f"d{i}" / "sub").mkdir(parents=True)
        (tmp_path / f"d{i}" / "sub" / "f").write_text(str(i))
    (tmp_path / "top").write_text("t")
    split = walk(tmp_path, workers="2")
    assert len(forks) == 1 and gone(forks[0])
    assert rows(split) == rows(walk(tmp_path, workers="1"))
    assert len(split) == 1 + 6 * 3


def test_a_lone_folder_chain_is_walked_down_to_where_it_branches(
    tmp_path: Path, forks: list[int]
) -> None:
    for i in range(4):
        (tmp_path / "only" / "one" / f"b{i}").mkdir(parents=True)
        (tmp_path / "only" / "one" / f"b{i}" / "f").write_text(str(i))
    split = walk(tmp_path, workers="2")
    assert len(forks) == 1
    assert [r[0] for r in rows(split)][:2] == ["only", "only/one"]
    assert rows(split) == rows(walk(tmp_path, workers="1"))


def test_a_child_without_an_answer_leaves_the_walk_to_the_parent(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "f").write_text(str(i))
    expected = rows(walk(tmp_path, workers="1"))

    def broken(value: object) -> bytes:
        raise ValueError("the child cannot send its rows")

    monkeypatch.setattr(marshal, "dumps", broken)  # only the child sends rows
    assert rows(walk(tmp_path, workers="2")) == expected
    assert len(forks) == 1 and gone(forks[0])


def test_an_error_in_the_childs_half_is_raised_as_in_a_single_walk(
    tmp_path: Path, forks: list[int]
) -> None:
    for i in range(4):
        (tmp_path / f"d{i}").mkdir()
    (tmp_path / "d1" / "bad\\name").write_text("x")  # in either half
    with pytest.raises(UsageError, match="backslash") as single:
        walk(tmp_path, workers="1")
    with pytest.raises(UsageError, match="backslash") as split:
        walk(tmp_path, workers="2")
    assert split.value.message == single.value.message
    assert len(forks) == 1 and gone(forks[0])


def test_ctrl_c_in_the_parent_kills_and_reaps_the_child(
    tmp_path: Path, forks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(4):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "f").write_text(str(i))
    parent = os.getpid()
    real = scan_module._walk_folders

    def interrupted(*args: object) -> None:
        if os.getpid() == parent:
            raise KeyboardInterrupt
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "_walk_folders", interrupted)
    with pytest.raises(KeyboardInterrupt):
        walk(tmp_path, workers="2")
    assert len(forks) == 1 and gone(forks[0])


def test_one_worker_never_forks(tmp_path: Path, forks: list[int]) -> None:
    for i in range(4):
        (tmp_path / f"d{i}").mkdir()
    walk(tmp_path, workers="1")
    assert forks == []


def test_no_fork_while_another_thread_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    monkeypatch.setattr(scan_module.os, "fork", _no_fork)
    for i in range(4):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "f").write_text(str(i))
    expected = rows(walk(tmp_path, workers="1"))
    done = threading.Event()
    other = threading.Thread(target=done.wait)
    other.start()
    try:
        assert rows(walk(tmp_path, workers="2")) == expected  # _no_fork was not called
    finally:
        done.set()
        other.join()


def _no_fork() -> int:
    raise AssertionError("forked while another thread ran")
