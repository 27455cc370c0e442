"""The audit report as HTML, Markdown or JSON, from Jinja2 templates shipped in the package.

Every user string (asset names, messages, reasons, actors, column names) is data: the HTML
environment autoescapes everything, and Markdown cells go through :func:`md` (HTML entities
plus backslashes before Markdown's punctuation) and Mermaid labels through :func:`mermaid`.
The HTML is one self-contained file: inline CSS, lineage graphs as inline SVG laid out here
with networkx, no script, no external URL, and a Content-Security-Policy that forbids both.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

    from dvlin.audit.report import AuditReport

__all__ = ["lineage_svg", "md", "mermaid", "render"]

_NODE_W, _NODE_H, _GAP_X, _GAP_Y, _PAD = 170, 34, 44, 18, 12


@cache
def _env(kind: str) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dvlin.render", "templates"),
        # HTML: every value is escaped unless the template says otherwise (it never does for
        # user text). Markdown has no escaping of its own: the md filter does it explicitly.
        autoescape=kind == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["mermaid"] = mermaid
    env.filters["size"] = _size
    env.filters["num"] = _num
    return env


def render(report: AuditReport, fmt: str) -> str:
    """The report as ``html``, ``md`` or ``json`` text."""
    doc = report.to_dict()
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    graphs = {m["id"]: lineage_svg(m["lineage"]) for m in doc["models"]}
    mermaids = {m["id"]: _mermaid_graph(m["lineage"]) for m in doc["models"]}
    template = _env(fmt).get_template("report.html.j2" if fmt == "html" else "report.md.j2")
    return template.render(r=doc, graphs=graphs, mermaids=mermaids)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md(value: object) -> str:
    """A value safe inside Markdown text or a table cell: no markup, no HTML, one line."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = " ".join(text.splitlines())
    return _MD_SPECIAL.sub(r"\\\1", text)


def mermaid(value: object) -> str:
    """A value safe inside a quoted Mermaid label (entity codes, one line)."""
    text = "" if value is None else str(value)
    for ch, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(ch, code)
    text = text.replace("`", "#96;").replace("|", "#124;")
    return " ".join(text.splitlines())


def _size(n: object) -> str:
    value = float(n) if isinstance(n, int | float) else 0.0
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _num(x: object) -> str:
    if isinstance(x, float):
        return f"{x:.3f}"
    return "" if x is None else str(x)


def _mermaid_graph(lineage: dict[str, Any]) -> list[str]:
    """Mermaid ``graph LR`` lines; node ids are positions, labels escaped by the template."""
    index = {n["id"]: f"n{i}" for i, n in enumerate(lineage["nodes"])}
    lines = []
    for n in lineage["nodes"]:
        label = mermaid(n["label"])
        # runs are stadiums, versions boxes
        shown = f'(["{label}"])' if n["type"] == "run" else f'["{label}"]'
        lines.append(index[n["id"]] + shown)
    for e in lineage["edges"]:
        lines.append(f'{index[e["src"]]} -->|"{mermaid(e["kind"])}"| {index[e["dst"]]}')
    return lines


def lineage_svg(lineage: dict[str, Any]) -> dict[str, Any]:
    """Geometry of a lineage graph for the SVG template: layered left (raw) to right (model).

    Layers are networkx's topological generations and the positions its multipartite
    layout, scaled to boxes on a grid; the template draws them and escapes the labels.
    """
    import networkx as nx

    g = nx.DiGraph()
    for n in lineage["nodes"]:
        g.add_node(n["id"])
    g.add_edges_from((e["src"], e["dst"]) for e in lineage["edges"])
    if not nx.is_directed_acyclic_graph(g):  # the catalog keeps lineage acyclic; be safe
        g.remove_edges_from(list(g.edges))  # (DiGraph(g.nodes) took the nodes for edges)
    layers = {n: i for i, gen in enumerate(nx.topological_generations(g)) for n in gen}
    nx.set_node_attributes(g, layers, "layer")
    columns = max(layers.values(), default=0) + 1
    per_layer: dict[int, list[str]] = {}
    for n in sorted(g.nodes):
        per_layer.setdefault(layers[n], []).append(n)
    rows = max((len(v) for v in per_layer.values()), default=1)
    pos = nx.multipartite_layout(g, subset_key="layer") if len(g) > 1 else {}
    by_id = {n["id"]: n for n in lineage["nodes"]}
    boxes: dict[str, dict[str, Any]] = {}
    for layer, members in per_layer.items():
        # multipartite_layout spreads a layer evenly on y; keep its order, snap to the grid.
        members.sort(key=lambda n: float(pos[n][1]) if n in pos else 0.0)
        offset = (rows - len(members)) * (_NODE_H + _GAP_Y) / 2
        for i, n in enumerate(members):
            node = by_id[n]
            boxes[n] = {
                "x": _PAD + layer * (_NODE_W + _GAP_X),
                "y": _PAD + offset + i * (_NODE_H + _GAP_Y),
                "label": node["label"] if len(node["label"]) <= 26 else node["label"][:25] + "…",
                "title": node["label"],
                "type": node["type"],
                "raw": node["raw"],
            }
    edges = [
        {
            "x1": boxes[e["src"]]["x"] + _NODE_W,
            "y1": boxes[e["src"]]["y"] + _NODE_H / 2,
            "x2": boxes[e["dst"]]["x"],
            "y2": boxes[e["dst"]]["y"] + _NODE_H / 2,
            "kind": e["kind"],
        }
        for e in lineage["edges"]
        if e["src"] in boxes and e["dst"] in boxes
    ]
    return {
        "width": 2 * _PAD + columns * _NODE_W + (columns - 1) * _GAP_X,
        "height": 2 * _PAD + rows * _NODE_H + (rows - 1) * _GAP_Y,
        "node_w": _NODE_W,
        "node_h": _NODE_H,
        "boxes": list(boxes.values()),
        "edges": edges,
    }
