"""The lineage queries: runs by id, prefix and age, and the edges between runs and versions."""

from __future__ import annotations

import itertools

from dvlin import Repo
from dvlin.catalog.runs import Edge, LineageStore, Run


def run(rid: str, started: str) -> Run:
    return Run(rid, "run", "build", "succeeded", 0, ("make",), False, ".", started, started)


def test_runs_by_id_prefix_and_newest_first(repo: Repo) -> None:
    store = LineageStore(repo.catalog)
    with repo.catalog.transaction():
        for rid, at in [("r-aa1", "2026-01-01"), ("r-aa2", "2026-01-03"), ("r-bb3", "2026-01-02")]:
            store.insert_run(run(rid, at))
    assert store.run("r-aa1") == run("r-aa1", "2026-01-01") and store.run("r-x") is None
    assert set(store.runs(["r-aa1", "r-bb3", "r-x"])) == {"r-aa1", "r-bb3"}
    assert [r.id for r in store.runs_with_prefix("r-aa")] == ["r-aa1", "r-aa2"]
    newest = store.iter_runs()
    assert not isinstance(newest, list)  # an iterator, as its name says
    assert [r.id for r in newest] == ["r-aa2", "r-bb3", "r-aa1"]
    assert [r.id for r in itertools.islice(store.iter_runs(limit=2), 5)] == ["r-aa2", "r-bb3"]


def test_edges_both_ways_and_walks(repo: Repo) -> None:
    store = LineageStore(repo.catalog)
    edges = [Edge("v1", "r-1", "input"), Edge("r-1", "v2", "output"), Edge("v2", "r-2", "input")]
    with repo.catalog.transaction():
        store.insert_edges(edges)
    assert store.edges_into("v2") == [Edge("r-1", "v2", "output")]
    assert store.edges_from("v2") == [Edge("v2", "r-2", "input")]
    assert store.is_upstream("v1", of="r-2") and not store.is_upstream("r-2", of="v1")
    assert set(store.walk("v1", upstream=False)) == set(edges)
    assert set(store.walk("v1", upstream=False, depth=1)) == {edges[0]}
