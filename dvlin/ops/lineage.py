"""``dvlin lineage``: the part of the DAG upstream and/or downstream of a version or run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.catalog.runs import RUN_PREFIX, Edge, LineageStore, Run, is_run_id
from dvlin.errors import AmbiguousRefError, NotFoundError, UsageError
from dvlin.lineage.export import FORMATS, export, tree, tree_text
from dvlin.lineage.export import TreeItem as TreeItem  # re-exported: the CLI draws it
from dvlin.lineage.graph import (
    DIRECTIONS,
    Direction,
    Lineage,
    Node,
    hops_from,
    node_sort_key,
    run_data,
    version_data,
)
from dvlin.ops.refs import resolve
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


def store(repo: Repo) -> LineageStore:
    """The lineage queries over the repo's catalog."""
    return LineageStore(repo.catalog)


def resolve_run(repo: Repo, ref: str) -> Run:
    """The run a ``r-…`` id or unique prefix names."""
    prefix = ref.strip().lower()
    if not prefix.startswith(RUN_PREFIX) or len(prefix) < len(RUN_PREFIX) + 4:
        raise UsageError(f"invalid run id {ref!r}", hint="run ids look like r-8c1e2f3a")
    matches = store(repo).runs_with_prefix(prefix)
    if not matches:
        raise NotFoundError(f"no run {ref!r}", hint="`dvlin lineage NAME` shows run ids")
    if len(matches) > 1:
        raise AmbiguousRefError(
            f"run id prefix {ref!r} is ambiguous: {', '.join(r.short for r in matches)}",
            hint="give more characters of the id",
            candidates=[r.id for r in matches],
        )
    return matches[0]


def resolve_node(repo: Repo, ref: str) -> str:
    """The node id a ref names: a version ref, or a run id (prefix) starting with ``r-``."""
    if ref.strip().lower().startswith(RUN_PREFIX):
        return resolve_run(repo, ref).id
    return resolve(repo, ref).id


def check_depth(depth: int | None) -> int | None:
    """Refuse a negative depth."""
    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {depth}", hint="e.g. --depth 2")
    return depth


def lineage(
    repo: Repo, ref: str, *, direction: Direction = "upstream", depth: int | None = None
) -> Lineage:
    """The subgraph reached from ``ref`` going ``direction``, at most ``depth`` edges away."""
    if direction not in DIRECTIONS:
        raise UsageError(
            f"unknown direction {direction!r}", hint=f"one of: {', '.join(DIRECTIONS)}"
        )
    check_depth(depth)
    start = resolve_node(repo, ref)
    s = store(repo)
    edges: set[Edge] = set()
    hops: dict[str, int] = {start: 0}
    for upstream in (True, False):
        if direction == ("downstream" if upstream else "upstream"):
            continue
        found = s.walk(start, upstream=upstream, depth=depth)
        edges.update(found)
        for node, h in hops_from(start, found, upstream=upstream).items():
            hops[node] = min(h, hops.get(node, h))
    return build(repo, start, direction, depth, edges, hops)


def build(
    repo: Repo,
    start: str,
    direction: Direction,
    depth: int | None,
    edges: set[Edge],
    hops: dict[str, int],
) -> Lineage:
    """Load the details of every node reached and assemble the :class:`Lineage`."""
    s = store(repo)
    node_ids = set(hops)
    runs = s.runs(n for n in node_ids if is_run_id(n))
    versions = s.versions(n for n in node_ids if not is_run_id(n))
    info = s.asset_info({v.asset for v in versions.values()})
    kinds = {name: kind for name, (kind, _) in info.items()}
    from dvlin.ops.log import asset_owners

    owners = asset_owners(repo, info)
    from dvlin.catalog.gc import GcStore

    expired = GcStore(repo.catalog).expired_at()
    nodes: list[Node] = []
    for node_id, h in hops.items():
        if node_id in runs:
            nodes.append(Node(node_id, "run", h, run_data(runs[node_id])))
        elif node_id in versions:
            v = versions[node_id]
            data = version_data(v, kind=kinds.get(v.asset, ""), expired_at=expired.get(v.id))
            nodes.append(Node(node_id, "version", h, data))
    nodes.sort(key=node_sort_key)
    return Lineage(
        start=start,
        direction=direction,
        depth=depth,
        nodes=tuple(nodes),
        edges=tuple(sorted(edges, key=lambda e: (e.src, e.dst, e.kind))),
        versions=versions,
        runs=runs,
        kinds=kinds,
        owners=owners,
    )


@sealed
@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a version came from and what used it: the summary ``dvlin show`` prints."""

    produced_by: Run | None
    inputs: tuple[str, ...]
    """Labels of the producing run's inputs (and of versions it was derived from by hand)."""
    consumers: tuple[str, ...]
    """Labels of runs that read this version and versions derived from it."""

    def to_dict(self) -> dict[str, Any]:
        """The ``lineage`` part of ``dvlin show --json``."""
        r = self.produced_by
        return {
            "produced_by": None
            if r is None
            else {"id": r.id, "transform": r.transform, "status": r.status, "kind": r.kind},
            "inputs": list(self.inputs),
            "consumers": list(self.consumers),
        }


def provenance(repo: Repo, version_id: str) -> Provenance:
    """The producing run, its inputs, and the direct consumers of one version."""
    s = store(repo)
    run_id = s.producers([version_id]).get(version_id)
    run = s.run(run_id) if run_id else None
    sources = [e.src for e in s.edges_into(run_id)] if run_id else []
    sources += [e.src for e in s.edges_into(version_id) if e.kind == "derived_from"]
    downstream = [e.dst for e in s.edges_from(version_id)]
    versions = s.versions([*sources, *(d for d in downstream if not is_run_id(d))])
    runs = s.runs(d for d in downstream if is_run_id(d))

    def label(node: str) -> str:
        if node in versions:
            return versions[node].label
        if node in runs:
            return f"{runs[node].transform} {runs[node].short}"
        return node

    return Provenance(
        produced_by=run,
        inputs=tuple(sorted(label(n) for n in sources)),
        consumers=tuple(sorted(label(n) for n in downstream)),
    )


def produced_by_runs(repo: Repo, version_ids: list[str]) -> dict[str, str]:
    """For each version that a run produced, that run's id (for ``dvlin log``)."""
    return store(repo).producers(version_ids)


def complete_runs(repo: Repo, lin: Lineage) -> Lineage:
    """The subgraph plus every input and output of each run in it (what an OpenLineage run
    event must list, even when the walk reached the run through one edge only)."""
    s = store(repo)
    edges = set(lin.edges)
    hops = {n.id: n.hops for n in lin.nodes}
    for run_id in lin.runs:
        for e in (*s.edges_into(run_id), *s.edges_from(run_id)):
            edges.add(e)
            other = e.src if e.dst == run_id else e.dst
            hops.setdefault(other, hops[run_id] + 1)
    return build(repo, lin.start, lin.direction, lin.depth, edges, hops)


def dataset_namespace(repo: Repo) -> str:
    """The OpenLineage namespace that names this repo: ``dvlin://HOST/path/to/repo``."""
    import socket

    return f"dvlin://{socket.gethostname()}{repo.root.as_posix()}"


def openlineage(
    repo: Repo,
    ref: str,
    *,
    direction: Direction = "upstream",
    depth: int | None = None,
    namespace: str = "dvlin",
) -> list[dict[str, Any]]:
    """OpenLineage events for the subgraph around ``ref`` (see :mod:`dvlin.lineage.openlineage`)."""
    from dvlin.lineage.openlineage import iter_events

    if not namespace.strip():
        raise UsageError("the OpenLineage namespace is empty", hint="e.g. --namespace dvlin")
    lin = complete_runs(repo, lineage(repo, ref, direction=direction, depth=depth))
    produced = set(store(repo).producers(list(lin.versions)))
    return list(
        iter_events(
            lin, namespace=namespace, dataset_namespace=dataset_namespace(repo), produced=produced
        )
    )


@sealed
@dataclass(frozen=True, slots=True)
class Trace:
    """What ``dvlin lineage`` shows: the subgraph exported as ``fmt``, and the tree it drew."""

    fmt: str
    text: str
    tree: TreeItem | None = None
    """The lines of the ``tree`` format, for a terminal to draw (None for other formats)."""


def check_format(fmt: str) -> str:
    """Refuse an export format dvlin does not write."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
    return fmt


def trace(
    repo: Repo,
    ref: str,
    *,
    direction: Direction = "upstream",
    depth: int | None = None,
    fmt: str = "tree",
    namespace: str = "dvlin",
) -> Trace:
    """``dvlin lineage``: the subgraph around ``ref`` as ``fmt`` (one of ``FORMATS``)."""
    check_format(fmt)
    if fmt == "openlineage":
        events = openlineage(repo, ref, direction=direction, depth=depth, namespace=namespace)
        return Trace(fmt, "".join(json.dumps(e, sort_keys=True) + "\n" for e in events))
    lin = lineage(repo, ref, direction=direction, depth=depth)
    if fmt == "tree":
        item = tree(lin)
        return Trace(fmt, tree_text(item), item)
    return Trace(fmt, export(lin, fmt))
