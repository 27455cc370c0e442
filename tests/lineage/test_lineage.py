"""``dvlin lineage``: tracing the three-stage pipeline both ways, in every format."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from dvlin.errors import ExitCode
from tests.conftest import Cli, Pipeline


def test_upstream_tree_reaches_the_raw_data(pipeline: Pipeline, cli: Cli) -> None:
    out = cli("lineage", "model", ok=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("model model@v1")
    order = [next(i for i, line in enumerate(lines) if needle in line) for needle in (
        "run train", "dataset features@v1", "run build-features", "dataset raw@v1"
    )]  # fmt: skip
    assert order == sorted(order)
    assert "succeeded (exit 0)" in out and "notes" not in out


def test_downstream_json_document(pipeline: Pipeline, cli: Cli) -> None:
    doc = json.loads(cli("lineage", "raw@v1", "--downstream", "--format", "json", ok=True).stdout)
    assert doc["start"] == pipeline.raw and doc["direction"] == "downstream"
    by_id = {n["id"]: n for n in doc["nodes"]}
    assert by_id[pipeline.raw]["hops"] == 0
    assert by_id[pipeline.features_run]["type"] == "run"
    assert by_id[pipeline.features_run]["data"]["params"] == {"window": "7d"}
    assert by_id[pipeline.features]["hops"] == 2
    assert by_id[pipeline.model]["hops"] == 4
    assert by_id[pipeline.model]["data"]["kind"] == "model"
    kinds = {(e["origin"], e["destination"]): e["kind"] for e in doc["edges"]}
    assert kinds[(pipeline.raw, pipeline.features_run)] == "input"
    assert kinds[(pipeline.train_run, pipeline.model)] == "output"
    assert "derived_from" in kinds.values()  # raw → notes, recorded by hand
    assert json.loads(cli("lineage", "raw", "-d", "--json", ok=True).stdout) == doc


def test_depth_limits_the_walk(pipeline: Pipeline, cli: Cli) -> None:
    doc = json.loads(cli("lineage", "model", "--depth", "2", "--json", ok=True).stdout)
    assert {n["id"] for n in doc["nodes"]} == {
        pipeline.model,
        pipeline.train_run,
        pipeline.features,
    }
    assert max(n["hops"] for n in doc["nodes"]) == 2
    zero = json.loads(cli("lineage", "model", "--depth", "0", "--json", ok=True).stdout)
    assert [n["id"] for n in zero["nodes"]] == [pipeline.model] and zero["edges"] == []


def test_both_directions_from_the_middle(pipeline: Pipeline, cli: Cli) -> None:
    out = cli("lineage", "features", "--both", ok=True).stdout
    assert "├── upstream" in out and "└── downstream" in out
    up, down = out.split("downstream", 1)
    assert "raw@v1" in up and "model@v1" in down
    doc = json.loads(cli("lineage", "features", "--both", "--json", ok=True).stdout)
    hops = {n["id"]: n["hops"] for n in doc["nodes"]}
    assert hops[pipeline.raw] == 2 and hops[pipeline.model] == 2


def test_a_run_id_is_a_valid_start(pipeline: Pipeline, cli: Cli) -> None:
    doc = json.loads(cli("lineage", pipeline.train_run[:8], "--both", "--json", ok=True).stdout)
    assert doc["start"] == pipeline.train_run
    assert {pipeline.features, pipeline.model} <= {n["id"] for n in doc["nodes"]}


def _dot_statements(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    """A strict reading of the DOT we write: quoted ids, one statement per line."""
    assert text.startswith("digraph lineage {\n") and text.rstrip().endswith("}")
    q = r'"((?:[^"\\]|\\.)*)"'
    nodes, edges = set(), set()
    for line in text.strip().splitlines()[1:-1]:
        line = line.strip()
        if m := re.fullmatch(rf"{q} -> {q}( \[.*\])?;", line):
            edges.add((m.group(1), m.group(2)))
        elif m := re.fullmatch(rf"{q} \[label={q}, shape=(box|ellipse)(, .*)?\];", line):
            nodes.add(m.group(1))
        else:
            assert re.fullmatch(r"(rankdir=LR|node \[.*\]);", line), line
    return nodes, edges


def test_dot_has_every_node_and_edge(pipeline: Pipeline, cli: Cli) -> None:
    doc = json.loads(cli("lineage", "raw", "-d", "--json", ok=True).stdout)
    nodes, edges = _dot_statements(cli("lineage", "raw", "-d", "-f", "dot", ok=True).stdout)
    assert nodes == {n["id"] for n in doc["nodes"]}
    assert edges == {(e["origin"], e["destination"]) for e in doc["edges"]}


def test_mermaid_is_a_flowchart_of_every_edge(pipeline: Pipeline, cli: Cli) -> None:
    doc = json.loads(cli("lineage", "raw", "-d", "--json", ok=True).stdout)
    text = cli("lineage", "raw", "-d", "-f", "mermaid", ok=True).stdout
    lines = text.strip().splitlines()
    assert lines[0] == "flowchart LR"
    declared = {}
    arrows = []
    for line in lines[1:]:
        line = line.strip()
        if m := re.fullmatch(r'(n\d+)(\["[^"]*"\]|\(\["[^"]*"\]\))', line):
            declared[m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"(n\d+) (-->|-\.->\|derived_from\|) (n\d+)", line):
            arrows.append((m.group(1), m.group(3)))
        else:
            assert re.fullmatch(r"(classDef \w+ .+;|class [n\d,]+ \w+;)", line), line
    assert len(declared) == len(doc["nodes"]) and len(arrows) == len(doc["edges"])
    assert all(a in declared and b in declared for a, b in arrows)


def test_errors(pipeline: Pipeline, cli: Cli) -> None:
    r = cli("lineage", "nothing")
    assert r.exit_code == ExitCode.NOT_FOUND and "unknown asset 'nothing'" in r.stderr
    r = cli("lineage", "r-00000000")
    assert r.exit_code == ExitCode.NOT_FOUND and "no run" in r.stderr
    r = cli("lineage", "model", "--format", "png")
    assert r.exit_code == ExitCode.USAGE and "unknown format" in r.stderr
    r = cli("lineage", "model", "--upstream", "--downstream")
    assert r.exit_code == ExitCode.USAGE and "choose one" in r.stderr
    r = cli("lineage", "model", "--depth", "-1")
    assert r.exit_code == ExitCode.USAGE and "--depth" in r.stderr


def test_a_version_cannot_be_its_own_ancestor(pipeline: Pipeline, cli: Cli) -> None:
    r = cli("link", "--from", "model", "--to", "raw@v1")
    assert r.exit_code == ExitCode.CONFLICT and "already upstream" in r.stderr
    import networkx as nx

    conn = sqlite3.connect(pipeline.root / ".dvlin/catalog.db")
    g = nx.DiGraph()  # not DiGraph(rows): networkx < 3.4 warns without scipy (an error here)
    g.add_edges_from(conn.execute("SELECT src, dst FROM edges"))
    conn.close()
    assert nx.is_directed_acyclic_graph(g)


@pytest.mark.parametrize("fmt", ["tree", "json", "dot", "mermaid", "openlineage"])
def test_every_format_on_a_version_with_no_lineage(work: Path, cli: Cli, fmt: str) -> None:
    (work / "a.txt").write_text("a")
    cli("commit", "a.txt", "--name", "a", ok=True)
    out = cli("lineage", "a", "--both", "-f", fmt, ok=True).stdout
    assert out.strip()


def test_trace_gives_the_tree_it_prints_and_only_text_for_other_formats(
    pipeline: Pipeline,
) -> None:
    from dvlin import Repo
    from dvlin.lineage.export import tree_text
    from dvlin.ops.lineage import trace

    with Repo.open(pipeline.root) as repo:
        drawn = trace(repo, "model")
        dot = trace(repo, "model", fmt="dot")
        events = trace(repo, "model", fmt="openlineage")
    assert drawn.tree is not None and drawn.text == tree_text(drawn.tree)
    assert drawn.text.startswith("model model@v1")
    assert dot.tree is None and dot.text.startswith("digraph")
    assert events.tree is None and all(json.loads(line) for line in events.text.splitlines())


def test_trace_refuses_an_unknown_format(pipeline: Pipeline) -> None:
    from dvlin import Repo
    from dvlin.errors import UsageError
    from dvlin.ops.lineage import trace

    with Repo.open(pipeline.root) as repo, pytest.raises(UsageError, match="unknown format"):
        trace(repo, "model", fmt="svg")
