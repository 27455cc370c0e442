"""Exports of a lineage subgraph: a text tree, Graphviz DOT and Mermaid (plain strings)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dvlin.lineage.graph import Lineage, Node
from dvlin.values import sealed

FORMATS = ("tree", "json", "dot", "mermaid", "openlineage")


@sealed
@dataclass(frozen=True, slots=True)
class TreeItem:
    """One line of a lineage tree and the lines under it."""

    text: str
    children: tuple[TreeItem, ...] = field(default_factory=tuple)
    node: str | None = None
    repeated: bool = False


def describe(node: Node) -> str:
    """One line about a node: kind, label, short id, time; for runs transform, status, code."""
    d = node.data
    if node.type == "version":
        expired = f"  expired {d['expired_at'][:10]}" if d.get("expired_at") else ""
        return (
            f"{d['kind'] or 'version'} {d['label']}  {node.id[:10]}  {_time(d['created_at'])}"
            f"{expired}"
        )
    parts = [f"run {d['transform']}", node.id[:10]]
    if d["kind"] == "link":
        parts.append("recorded by hand")
    elif d["kind"] == "register":
        parts.append("model registration")
    else:
        status = d["status"] if d["exit_code"] is None else f"{d['status']} (exit {d['exit_code']})"
        parts.append(status)
    code = d.get("code") or {}
    if code.get("commit"):
        parts.append(f"git {code['commit'][:7]}{'-dirty' if code.get('dirty') else ''}")
    parts.append(_time(d["started_at"]))
    return "  ".join(parts)


def _time(stamp: str) -> str:
    return stamp[:16].replace("T", " ") if stamp else ""


def tree(lin: Lineage) -> TreeItem:
    """The subgraph as a tree rooted at the start; a node met again is shown once, marked."""
    nodes = {n.id: n for n in lin.nodes}
    ups: dict[str, list[tuple[str, str]]] = {}
    downs: dict[str, list[tuple[str, str]]] = {}
    for e in lin.edges:
        ups.setdefault(e.dst, []).append((e.src, e.kind))
        downs.setdefault(e.src, []).append((e.dst, e.kind))
    seen: set[str] = set()

    def grow(node_id: str, nxt: dict[str, list[tuple[str, str]]], kind: str = "") -> TreeItem:
        prefix = "derived from: " if kind == "derived_from" else ""
        n = nodes.get(node_id)
        text = prefix + (describe(n) if n is not None else node_id)
        if node_id in seen:
            return TreeItem(text + "  (see above)", node=node_id, repeated=True)
        seen.add(node_id)
        pairs = sorted(nxt.get(node_id, []), key=lambda p: _order(nodes, p[0]))
        return TreeItem(text, tuple(grow(c, nxt, k) for c, k in pairs), node=node_id)

    root = nodes[lin.start]
    if lin.direction == "upstream":
        return grow(lin.start, ups)
    if lin.direction == "downstream":
        return grow(lin.start, downs)
    seen.add(lin.start)
    up = [
        grow(c, ups, k)
        for c, k in sorted(ups.get(lin.start, []), key=lambda p: _order(nodes, p[0]))
    ]
    down = [
        grow(c, downs, k)
        for c, k in sorted(downs.get(lin.start, []), key=lambda p: _order(nodes, p[0]))
    ]
    return TreeItem(
        describe(root),
        (TreeItem("upstream", tuple(up)), TreeItem("downstream", tuple(down))),
        node=lin.start,
    )


def _order(nodes: dict[str, Node], node_id: str) -> tuple[str, str]:
    n = nodes.get(node_id)
    return (n.label if n else node_id, node_id)


def tree_text(item: TreeItem) -> str:
    """A tree as plain text with box-drawing guides (for pipes and files)."""
    lines = [item.text]

    def walk(children: tuple[TreeItem, ...], indent: str) -> None:
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(indent + ("└── " if last else "├── ") + child.text)
            walk(child.children, indent + ("    " if last else "│   "))

    walk(item.children, "")
    return "\n".join(lines) + "\n"


def to_json(lin: Lineage) -> str:
    """The documented JSON document (see ``docs/lineage.md``)."""
    return json.dumps(lin.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(lin: Lineage) -> str:
    """Graphviz DOT: versions as boxes, runs as ellipses, hand links dashed."""
    out = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    for n in lin.nodes:
        shape = "box" if n.type == "version" else "ellipse"
        label = _node_label(n)
        style = ', style="bold"' if n.id == lin.start else ""
        if n.type == "run" and n.data["status"] == "failed":
            style += ', color="red"'
        out.append(f"  {_dot_quote(n.id)} [label={_dot_quote(label)}, shape={shape}{style}];")
    for e in lin.edges:
        attrs = ' [style="dashed", label="derived_from"]' if e.kind == "derived_from" else ""
        out.append(f"  {_dot_quote(e.src)} -> {_dot_quote(e.dst)}{attrs};")
    out.append("}")
    return "\n".join(out) + "\n"


def _node_label(n: Node) -> str:
    if n.type == "version":
        return f"{n.data['label']}\n{n.data['kind']} {n.id[:10]}"
    return f"{n.data['transform']}\n{n.id[:10]} {n.data['status']}"


def _mermaid_text(text: str) -> str:
    # Mermaid has no backslash escapes inside labels: quotes and angle brackets become
    # entity codes, and a line break is <br/>.
    return (
        text.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("\n", "<br/>")
    )


def to_mermaid(lin: Lineage) -> str:
    """A Mermaid flowchart: versions as rectangles, runs as stadiums, hand links dotted."""
    ids = {n.id: f"n{i}" for i, n in enumerate(lin.nodes)}
    out = ["flowchart LR"]
    for n in lin.nodes:
        label = _mermaid_text(_node_label(n))
        shape = f'["{label}"]' if n.type == "version" else f'(["{label}"])'
        out.append(f"  {ids[n.id]}{shape}")
    for e in lin.edges:
        if e.src not in ids or e.dst not in ids:
            continue
        arrow = " -.->|derived_from| " if e.kind == "derived_from" else " --> "
        out.append(f"  {ids[e.src]}{arrow}{ids[e.dst]}")
    out.append(f"  classDef start stroke-width:3px;\n  class {ids[lin.start]} start;")
    failed = [ids[n.id] for n in lin.nodes if n.type == "run" and n.data["status"] == "failed"]
    if failed:
        out.append(f"  classDef failed stroke:#c00;\n  class {','.join(failed)} failed;")
    return "\n".join(out) + "\n"


def export(lin: Lineage, fmt: str, **options: Any) -> str:
    """The subgraph in one of :data:`FORMATS` (``tree`` as plain text).

    For ``openlineage``, :func:`dvlin.ops.lineage.openlineage` adds what the events need
    from the catalog (every input and output of each run); this exports the subgraph as is.
    """
    if fmt == "tree":
        return tree_text(tree(lin))
    if fmt == "json":
        return to_json(lin)
    if fmt == "dot":
        return to_dot(lin)
    if fmt == "mermaid":
        return to_mermaid(lin)
    if fmt == "openlineage":
        from dvlin.lineage.openlineage import to_jsonl

        return to_jsonl(lin, **options)
    from dvlin.errors import UsageError

    raise UsageError(f"unknown format {fmt!r}", hint=f"one of: {', '.join(FORMATS)}")
