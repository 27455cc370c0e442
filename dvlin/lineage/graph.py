"""A lineage subgraph: the nodes and edges one query reached, with each node's details.

Built from the catalog's recursive walks (never by loading the whole DAG); networkx is used
only on such a subgraph, for ordering and analysis.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from dvlin.catalog import Version
from dvlin.catalog.runs import Edge, Run, is_run_id
from dvlin.values import sealed

if TYPE_CHECKING:
    import networkx as nx

Direction = Literal["upstream", "downstream", "both"]
DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream", "both")


@sealed
@dataclass(frozen=True, slots=True)
class Node:
    """A node of the DAG: a version of an asset or a run, and how many edges from the start."""

    id: str
    type: Literal["version", "run"]
    hops: int
    data: dict[str, Any]

    @property
    def label(self) -> str:
        """``asset@vN`` for a version, ``TRANSFORM r-xxxxxxxx`` for a run."""
        if self.type == "version":
            return str(self.data["label"])
        return f"{self.data['transform']} {self.id[:10]}"


@sealed
@dataclass(frozen=True, slots=True)
class Lineage:
    """The part of the DAG around ``start`` that a lineage query reached."""

    start: str
    direction: Direction
    depth: int | None
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    versions: dict[str, Version] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    """Asset name → kind, for the assets of the versions in the graph."""
    owners: dict[str, str] = field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        """The node with this id."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, Any]:
        """The documented ``--format json`` document."""
        return {
            "start": self.start,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [
                {"id": n.id, "type": n.type, "hops": n.hops, "data": n.data} for n in self.nodes
            ],
            "edges": [{"origin": e.src, "destination": e.dst, "kind": e.kind} for e in self.edges],
        }

    def digraph(self) -> nx.DiGraph:
        """The subgraph as a networkx DiGraph (networkx imported here only)."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(n.id for n in self.nodes)
        g.add_edges_from((e.src, e.dst, {"kind": e.kind}) for e in self.edges)
        return g


def hops_from(start: str, edges: Iterable[Edge], *, upstream: bool) -> dict[str, int]:
    """Breadth-first distance (in edges) from ``start`` along ``edges``, one direction."""
    nxt: dict[str, list[str]] = {}
    for e in edges:
        a, b = (e.dst, e.src) if upstream else (e.src, e.dst)
        nxt.setdefault(a, []).append(b)
    dist = {start: 0}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for there in nxt.get(here, ()):
            if there not in dist:
                dist[there] = dist[here] + 1
                queue.append(there)
    return dist


def version_data(v: Version, *, kind: str, expired_at: str | None = None) -> dict[str, Any]:
    """What a version node carries in the JSON document."""
    return {
        "asset": v.asset,
        "number": v.number,
        "label": v.label,
        "kind": kind,
        "created_at": v.created_at,
        "author": v.author,
        "message": v.message,
        "expired_at": expired_at,
    }


def run_data(r: Run) -> dict[str, Any]:
    """What a run node carries in the JSON document."""
    return {
        "transform": r.transform,
        "kind": r.kind,
        "status": r.status,
        "exit_code": r.exit_code,
        "command": list(r.command),
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "params": r.params,
        "metrics": r.metrics,
        "code": r.code,
    }


def node_sort_key(n: Node) -> tuple[int, str, str]:
    """Nearest first, then by label: a stable order for every export."""
    return (n.hops, n.label, n.id)


def is_version(node_id: str) -> bool:
    """True for a version node id."""
    return not is_run_id(node_id)
