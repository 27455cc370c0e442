"""Commits that keep their parent's paths take the parent's rows from the stat cache's ``row``
column; on random in-place edits (same-size rewrites that keep the mtime, fresh and racy
mtimes, mode flips, hostile names) and the odd structural change, each commit must agree with
hashing everything and with :func:`diff_entries`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ops.test_hotpath_property import CONTENTS, NAMES, World

edit = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.sampled_from(CONTENTS), st.booleans()),
    st.tuples(
        st.just("keep-mtime"), st.sampled_from(NAMES), st.sampled_from(CONTENTS), st.just(True)
    ),
    st.tuples(st.just("chmod"), st.sampled_from(NAMES), st.none(), st.booleans()),
    st.tuples(st.just("status"), st.just(""), st.none(), st.booleans()),
)
rare = st.one_of(
    st.tuples(st.just("remove"), st.sampled_from(NAMES), st.none(), st.booleans()),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES), st.booleans()),
)
step = st.lists(st.one_of(edit, edit, edit, rare), min_size=0, max_size=4)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(step, min_size=2, max_size=6))
def test_commits_with_the_parents_paths_agree_with_hashing_everything(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    steps: list[list[tuple[str, str, object, bool]]],
) -> None:
    with World.seeded(tmp_path / "repo", monkeypatch) as world:
        repo = world.repo
        for edits in [[], *steps]:  # a commit with no edit first: the rows are remembered
            for kind, a, b, aged in edits:
                target = world.d / a
                if kind == "status":
                    repo.status(["d"])
                elif kind == "keep-mtime":
                    # The same mtime put back after a rewrite: only size or ctime can tell.
                    if target.is_file() and not target.is_symlink():
                        before = os.lstat(target).st_mtime_ns
                        assert isinstance(b, bytes)
                        target.write_bytes(b)
                        os.utime(target, ns=(before, before))
                else:
                    world.apply(kind, a, b, aged)
            truth = world.reference()
            world.commit_agrees(truth, world.expected(truth))
        assert repo.status(["d"]).clean
