"""The whole story: a pipeline recorded three ways, traced both ways and through every format,
surviving a crash between running the command and recording it, and a catalog migration."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvlin.catalog import Catalog
from dvlin.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import FEATURES, Cli, Pipeline, write_tree
from tests.lineage.test_openlineage import validate


def _count(root: Path, table: str) -> int:
    conn = sqlite3.connect(root / ".dvlin/catalog.db")
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_three_stages_traced_both_ways_in_every_format(pipeline: Pipeline, cli: Cli) -> None:
    up = json.loads(cli("lineage", "model", "--json", ok=True).stdout)
    down = json.loads(cli("lineage", "raw", "--downstream", "--json", ok=True).stdout)
    chain = [pipeline.raw, pipeline.features_run, pipeline.features, pipeline.train_run,
             pipeline.model]  # fmt: skip
    assert [n["id"] for n in sorted(up["nodes"], key=lambda n: -n["hops"])] == chain
    assert set(chain) <= {n["id"] for n in down["nodes"]}
    for direction in ("--upstream", "--downstream", "--both"):
        start = "model" if direction == "--upstream" else "raw"
        for fmt in ("tree", "json", "dot", "mermaid", "openlineage"):
            out = cli("lineage", start, direction, "-f", fmt, ok=True).stdout
            assert "model@v1" in out or '"name": "model"' in out or fmt == "openlineage"
            if fmt == "openlineage":
                for line in out.splitlines():
                    validate(json.loads(line))
    show = json.loads(cli("show", "features", "--json", ok=True).stdout)["lineage"]
    assert show["produced_by"]["id"] == pipeline.features_run
    assert show["inputs"] == ["raw@v1"]
    assert show["consumers"] == [f"train {pipeline.train_run[:10]}"]
    text = cli("show", "features", ok=True).stdout
    assert f"build-features {pipeline.features_run[:10]}" in text and "raw@v1" in text
    log = json.loads(cli("log", "--json", ok=True).stdout)
    runs = {v["label"]: v["run"] for v in log}
    assert runs == {
        "raw@v1": None,
        "features@v1": pipeline.features_run,
        "model@v1": pipeline.train_run,
        "notes@v1": None,
    }
    assert pipeline.features_run[:10] in cli("log", "features", ok=True).stdout


def test_a_crash_before_recording_leaves_no_run_and_no_outputs(work: Path) -> None:
    write_tree(work, {"data/raw/e.csv": "a\n1\n", "make.py": FEATURES})
    env = {**os.environ, "DVLIN_AUTHOR": "t"}
    subprocess.run([sys.executable, "-m", "dvlin", "commit", "data/raw", "--name", "raw"],
                   cwd=work, env=env, check=True, capture_output=True)  # fmt: skip
    args = [sys.executable, "-m", "dvlin", "run", "-n", "build", "-i", "raw",
            "-o", "out:feat", "--", sys.executable, "make.py", "data/raw/e.csv", "out"]  # fmt: skip
    marker = work.parent / "paused"
    proc = subprocess.Popen(
        args, cwd=work, env={**env, "DVLIN_TEST_PAUSE_BEFORE_CATALOG": str(marker)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # The command ran and its output's objects are written; nothing is in the catalog yet.
    assert (work / "out/features.csv").exists()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert _count(work, "runs") == 0 and _count(work, "edges") == 0
    assert _count(work, "versions") == 1  # raw@v1 only
    # The repo is usable, and the same run records whole.
    done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _count(work, "runs") == 1 and _count(work, "edges") == 2
    assert _count(work, "versions") == 2


def test_a_v1_catalog_migrates_to_lineage(tmp_path: Path) -> None:
    import sqlite_utils

    path = tmp_path / "catalog.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    db.table("meta").create({"key": str, "value": str}, pk="key")
    MIGRATIONS[0](db)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.close()
    catalog = Catalog.open(path)
    tables = {r[0] for r in catalog.conn.execute("SELECT name FROM sqlite_master")}
    assert {"runs", "edges", "model_stages"} <= tables
    assert catalog.get_meta("schema_version") == str(SCHEMA_VERSION)
    catalog.close()


@pytest.mark.parametrize("depth", [None, 1, 3])
def test_the_sql_walk_matches_networkx(tmp_path: Path, depth: int | None) -> None:
    """The recursive CTE reaches exactly what networkx reaches on a random DAG."""
    import random

    import networkx as nx

    from dvlin import Repo
    from dvlin.catalog.runs import Edge, LineageStore

    rng = random.Random(7)
    g = nx.gn_graph(300, seed=7).reverse()  # a random DAG; edges point away from old nodes
    g.add_edges_from((a, b) for a, b in [(rng.randrange(150), rng.randrange(150, 300))
                                         for _ in range(200)])  # fmt: skip
    assert nx.is_directed_acyclic_graph(g)
    with Repo.init(tmp_path / "r") as repo:
        s = LineageStore(repo.catalog)
        with repo.catalog.transaction():
            s.insert_edges(Edge(f"n{a}", f"n{b}", "derived_from") for a, b in g.edges)
        for start in (0, 42, 299):
            for upstream in (True, False):
                h = g.reverse() if upstream else g
                reach = nx.single_source_shortest_path_length(h, start, cutoff=depth)
                expected = {
                    (f"n{a}", f"n{b}")
                    for a, b in g.edges
                    if (b if upstream else a) in reach
                    and (depth is None or reach[b if upstream else a] < depth)
                }
                got = {(e.src, e.dst) for e in s.walk(f"n{start}", upstream=upstream, depth=depth)}
                assert got == expected
