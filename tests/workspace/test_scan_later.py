"""A walk started early in a forked process gives exactly the rows of a walk done in place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.errors import UsageError
from dvlin.workspace import scan as scan_module
from dvlin.workspace.scan import scan_columns, scan_columns_later
from tests.workspace.walk_trees import TREE, build, gone


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the early walkers forked (two workers, threads of other tests ignored)."""
    monkeypatch.setenv("DVLIN_SCAN_WORKERS", "2")
    monkeypatch.setattr(scan_module, "_threads_running", lambda: False)
    started: list[int] = []
    real = scan_module._Child.fork

    def spy(walk: object) -> scan_module._Child | None:
        child = real(walk)  # type: ignore[arg-type]
        if child is not None and os.getpid() == parent:
            started.append(child.pid)
        return child

    parent = os.getpid()
    monkeypatch.setattr(scan_module._Child, "fork", staticmethod(spy))
    return started


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(TREE, st.sampled_from([(".",), ("a",), ("a", "b", "missing")]))
def test_an_early_walk_gives_the_rows_of_a_walk_in_place(
    tmp_path_factory: pytest.TempPathFactory,
    forks: list[int],
    tree: list[tuple[list[str], str]],
    roots: tuple[str, ...],
) -> None:
    base = tmp_path_factory.mktemp("t")
    build(base, tree)
    forks.clear()
    early = scan_columns_later(str(base), roots, strict=False).result()
    assert forks and all(gone(pid) for pid in forks)
    assert list(early) == list(scan_columns(str(base), roots, strict=False))
    assert list(early.ctime_ns) == list(scan_columns(str(base), roots, strict=False).ctime_ns)


def test_an_error_is_raised_as_by_a_walk_in_place(tmp_path: Path, forks: list[int]) -> None:
    for i in range(4):
        (tmp_path / f"d{i}").mkdir()
    (tmp_path / "d1" / "bad\\name").write_text("x")
    with pytest.raises(UsageError, match="backslash") as in_place:
        scan_columns(str(tmp_path), (".",))
    later = scan_columns_later(str(tmp_path), (".",))
    with pytest.raises(UsageError, match="backslash") as early:
        later.result()
    assert early.value.message == in_place.value.message
    assert forks and all(gone(pid) for pid in forks)


def test_stop_kills_and_reaps_a_walk_not_wanted(tmp_path: Path, forks: list[int]) -> None:
    (tmp_path / "d").mkdir()
    scan_columns_later(str(tmp_path), (".",)).stop()
    assert len(forks) == 1 and gone(forks[0])


def test_a_folder_that_is_not_there_forks_nothing(tmp_path: Path, forks: list[int]) -> None:
    assert len(scan_columns_later(str(tmp_path / "gone"), (".",)).result()) == 0
    assert forks == []
