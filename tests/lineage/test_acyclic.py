"""Property: whatever links people record, the lineage graph stays acyclic."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.ops.link import CycleError, link
from tests.conftest import write_tree

N = 6


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Repo, list[str]]:
    repo = Repo.init(tmp_path / "repo")
    monkeypatch.chdir(repo.root)
    labels = []
    for i in range(N):
        write_tree(repo.root, {f"a{i}/x": str(i)})
        labels.append(repo.commit([f"a{i}"], name=f"a{i}").version.label)
    return repo, labels


def _graph(repo: Repo) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_edges_from(repo.catalog.conn.execute("SELECT src, dst FROM edges"))
    return g


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pairs=st.lists(
        st.tuples(st.integers(0, N - 1), st.integers(0, N - 1), st.booleans()), max_size=12
    )
)
def test_links_never_make_a_cycle(
    versions: tuple[Repo, list[str]], pairs: list[tuple[int, int, bool]]
) -> None:
    repo, labels = versions
    with repo.catalog.transaction():
        repo.catalog.conn.execute("DELETE FROM edges")
        repo.catalog.conn.execute("DELETE FROM runs")
    for src, dst, as_run in pairs:
        before = _graph(repo)
        by_id = {repo.resolve(label).id: label for label in labels}
        src_id = repo.resolve(labels[src]).id
        dst_id = repo.resolve(labels[dst]).id
        # A cycle would appear exactly when the target already reaches the source.
        would_cycle = src == dst or (
            dst_id in before and src_id in before and nx.has_path(before, dst_id, src_id)
        )
        try:
            link(repo, [labels[src]], labels[dst], transform="t" if as_run else None)
        except CycleError:
            assert would_cycle, f"{by_id[src_id]} → {by_id[dst_id]} was refused needlessly"
        else:
            assert not would_cycle, f"{by_id[src_id]} → {by_id[dst_id]} made a cycle"
        assert nx.is_directed_acyclic_graph(_graph(repo))
