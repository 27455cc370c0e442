"""Text for ``dvlin stats`` and ``dvlin diff``: per-column tables and one line per finding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dvlin.render.output import human_bytes
from dvlin.render.text import quote

if TYPE_CHECKING:
    from rich.table import Table

    from dvlin.inspect.rowdiff import RowDiff
    from dvlin.ops.datadiff import DataDiff
    from dvlin.ops.stats import FileStats


def shown(text: str) -> str:
    """User text for a terminal line: quoted (as git quotes names) when it holds control chars."""
    return quote(text)


def count(n: int | float | None) -> str:
    """``1310000`` → ``1.31M``; small numbers in full."""
    if n is None:
        return "—"
    if abs(n) >= 1e9:
        return f"{n / 1e9:.2f}B"
    if abs(n) >= 1e6:
        return f"{n / 1e6:.2f}M"
    if abs(n) >= 1e4:
        return f"{n / 1e3:.1f}k"
    return f"{n:,}" if isinstance(n, int) else f"{n:.4g}"


def number(x: Any) -> str:
    """A statistic for a table cell."""
    if x is None:
        return "—"
    if isinstance(x, bool) or isinstance(x, str):
        return shown(str(x))
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.4g}"


def _top(col: dict[str, Any], n: int = 3) -> str:
    top = col.get("top") or []
    return ", ".join(f"{shown(str(v))} ({c:,})" for v, c in top[:n]) + (
        " …" if len(top) > n else ""
    )


def stats_table(f: FileStats) -> Table:
    """One row per column: type, nulls, distinct, min/max/mean/std, median or top values."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for name in ("column", "type", "nulls", "distinct", "min", "max", "mean", "std", "p50 / top"):
        table.add_column(name, overflow="fold")
    rows = f.profile.get("rows") or 0
    for col in f.profile.get("columns", []):
        nulls = col.get("nulls", 0)
        share = f" ({nulls / rows:.1%})" if rows and nulls else ""
        distinct = col.get("distinct")
        d = (
            "—"
            if distinct is None
            else ("" if col.get("distinct_exact") else "≈") + f"{distinct:,}"
        )
        extra = ""
        if col.get("kind") == "number" and col.get("quantiles"):
            extra = number(col["quantiles"][len(col["quantiles"]) // 2])
        elif col.get("top"):
            extra = _top(col)
        elif col.get("embedding"):
            e = col["embedding"]
            extra = f"dim {e.get('dim')}, mean norm {number((e.get('norm') or {}).get('mean'))}"
        table.add_row(
            shown(col["name"]),
            col.get("type", ""),
            f"{nulls:,}{share}",
            d,
            number(col.get("min")),
            number(col.get("max")),
            number(col.get("mean")),
            number(col.get("std")),
            extra,
        )
    return table


def stats_heading(f: FileStats) -> str:
    """``data/a.parquet (parquet, 1.20M rows)``."""
    p = f.profile
    if "error" in p:
        return f"{shown(f.path)} ({p.get('format')}): unreadable: {p['error']}"
    return f"{shown(f.path)} ({p.get('format')}, {count(p.get('rows'))} rows)"


def embedding_lines(e: dict[str, Any]) -> Iterator[str]:
    """An embedding profile in two lines."""
    norm = e.get("norm") or {}
    yield (
        f"  vectors {e.get('count', 0):,} × {e.get('dim')} {e.get('dtype')}, "
        f"non-finite {e.get('nonfinite', 0):,}"
    )
    if norm:
        yield (
            f"  norm mean {number(norm.get('mean'))} std {number(norm.get('std'))} "
            f"min {number(norm.get('min'))} max {number(norm.get('max'))}"
        )
    if e.get("note"):
        yield f"  note: {e['note']}"


def _pct(a: float, b: float) -> str:
    return f"{a:.1%} → {b:.1%}"


def _change(a: int | None, b: int | None) -> str:
    if a is None or b is None:
        return f"{count(a)} → {count(b)}"
    rel = f" ({(b - a) / a:+.1%})" if a else ""
    return f"{count(a)} → {count(b)}{rel}"


class _Lazy(list):  # type: ignore[type-arg]
    """A JSON array whose items are made as the encoder reaches them (never held all at once).

    ``json``'s pure-Python encoder (the one ``indent`` uses) accepts any list and iterates it.
    """

    def __init__(self, items: Any, count: int) -> None:
        super().__init__()
        self._items, self._count = items, count

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items())

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0


def diff_json_chunks(d: DataDiff) -> Iterator[str]:
    """``json.dumps(d.to_dict(), indent=2, ensure_ascii=False)`` in pieces, byte for byte: a
    diff of 500k files never holds 500k dictionaries nor one 100 MiB string."""
    import json

    doc = d.to_dict(files=False)
    doc["files"]["changes"] = _Lazy(lambda: (f.to_dict() for f in d.files), len(d.files))
    yield from json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(doc)
    yield "\n"


def diff_lines(d: DataDiff) -> Iterator[str]:
    """The whole diff, one finding per line."""
    yield f"{shown(d.a)} → {shown(d.b)}"
    c = d.counts()
    yield f"files: +{c['added']} −{c['removed']} ~{c['modified']}"
    sizes: dict[int, str] = {}  # a big diff repeats a few sizes: each formatted once

    def size(n: int | None) -> str:
        n = n or 0
        text = sizes.get(n)
        if text is None:
            text = sizes[n] = human_bytes(n)
        return text

    for f in d.files:
        if f.change == "added":
            yield f"  + {shown(f.path)} ({size(f.size_b)})"
        elif f.change == "removed":
            yield f"  − {shown(f.path)} ({size(f.size_a)})"
        else:
            yield f"  ~ {shown(f.path)} ({size(f.size_a)} → {size(f.size_b)})"
    if d.schema is not None and d.schema.changed:
        s = d.schema
        parts = [f"+{shown(n)} {t}" for n, t in s.added]
        parts += [f"−{shown(n)} {t}" for n, t in s.removed]
        parts += [f"{shown(n)} {a}→{b}" for n, a, b in s.retyped]
        parts += [f"{shown(n)} {'nullable' if b else 'not null'}" for n, _, b in s.nullability]
        modes = [s.policy_mode] if s.policy_mode else ["backward", "forward"]
        verdicts = ", ".join(
            f"{m}: {'ok' if not s.verdicts.get(m) else 'breaks'}" for m in modes if m in s.verdicts
        )
        yield f"schema: {'; '.join(parts)} ({verdicts})"
    for t in d.tables:
        yield from _table_lines(t)
    for path, r in d.rows.items():
        yield from row_lines(path, r)


def _table_lines(t: dict[str, Any]) -> Iterator[str]:
    name = shown(t["path"]) + (f" ↔ {shown(t['path_b'])}" if "path_b" in t else "")
    if "error" in t:
        yield f"{name}: unreadable: {t['error']}"
        return
    if "embedding" in t:
        yield f"{name}: " + embedding_summary(t["embedding"])
        return
    rows = t.get("rows") or [None, None]
    yield f"{name}: rows {_change(rows[0], rows[1])}"
    if t.get("added_columns") or t.get("removed_columns"):
        cols = [f"+{shown(n)}" for n in t.get("added_columns", [])]
        cols += [f"−{shown(n)}" for n in t.get("removed_columns", [])]
        yield f"  columns: {' '.join(cols)}"
    nulls = [
        f"{shown(c['name'])} {_pct(*c['null_fraction'])}"
        for c in t.get("columns", [])
        if abs(c["null_fraction"][1] - c["null_fraction"][0]) >= 0.0005
    ]
    if nulls:
        yield f"  nulls: {'; '.join(nulls)}"
    distinct = [
        f"{shown(c['name'])} {count(c['distinct'][0])} → {count(c['distinct'][1])}"
        for c in t.get("columns", [])
        if c.get("distinct") and c["distinct"][0] != c["distinct"][1] and c.get("kind") != "string"
    ]
    if distinct:
        yield f"  distinct: {'; '.join(distinct)}"
    drift = [_column_drift(c) for c in t.get("columns", []) if "drift" in c]
    if drift:
        yield f"  drift: {'; '.join(drift)}"


def _column_drift(c: dict[str, Any]) -> str:
    name = shown(c["name"])
    if "embedding" in c:
        return f"{name}: {embedding_summary(c['embedding'])}"
    parts = []
    if c.get("categories") and c["categories"][0] != c["categories"][1]:
        parts.append(f"{count(c['categories'][0])} → {count(c['categories'][1])} categories")
    if c.get("new"):
        parts.append("new " + ", ".join(shown(str(v)) for v in c["new"][:5]))
    if c.get("vanished"):
        parts.append("vanished " + ", ".join(shown(str(v)) for v in c["vanished"][:5]))
    psi = f"PSI {c['psi']:.2f} {c['drift']}"
    if "ks" in c:
        psi += f", KS {c['ks']:.2f}"
    if c.get("mean_shift_std") not in (None, 0.0):
        psi += f", mean {c['mean_shift_std']:+.2f} sd"
    return f"{name} " + ", ".join([*parts, psi]) if parts else f"{name} {psi}"


def embedding_summary(e: dict[str, Any]) -> str:
    """Count, dim, mean norm, centroid shift, NN moved, MMD on one line."""
    parts = [f"count {_change(*e['count'])}"]
    if e["dim"][0] != e["dim"][1]:
        parts.append(f"dim {e['dim'][0]} → {e['dim'][1]}")
    else:
        parts.append(f"dim {e['dim'][1]}")
    if "mean_norm" in e:
        parts.append(f"mean norm {number(e['mean_norm'][0])} → {number(e['mean_norm'][1])}")
    if e.get("comparable"):
        parts.append(f"centroid shift {e['centroid_shift']:.4f}")
        if e.get("nn_moved") is not None:
            parts.append(f"NN moved {e['nn_moved']:.0%} of {e['nn_compared']}")
        parts.append(f"MMD {e['mmd']:.4f}")
        parts.append(str(e.get("drift")))
    return ", ".join(parts)


def row_lines(path: str, r: RowDiff) -> Iterator[str]:
    """A keyed row diff: counts, per-column changes and a few samples."""
    key = ", ".join(shown(k) for k in r.key)
    parts = f" in {r.partitions} partitions" if r.partitions > 1 else ""
    yield f"rows of {shown(path)} by {key}: +{r.added:,} −{r.removed:,} ~{r.changed:,}{parts}"
    changed = sorted(((c, n) for c, n in r.column_changes.items() if n), key=lambda x: -x[1])
    if changed:
        yield "  changed columns: " + ", ".join(f"{shown(c)} {n:,}" for c, n in changed)
    if r.not_compared:
        yield "  not compared: " + ", ".join(shown(c) for c in r.not_compared)
    for k in r.samples.get("added", []):
        yield f"  + {shown(str(k))}"
    for k in r.samples.get("removed", []):
        yield f"  − {shown(str(k))}"
    for s in r.samples.get("changed", []):
        changes = "; ".join(
            f"{shown(c)}: {shown(str(a))} → {shown(str(b))}" for c, (a, b) in s["changes"].items()
        )
        yield f"  ~ {shown(str(s['key']))}: {changes}"
