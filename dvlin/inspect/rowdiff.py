"""Row-level diff of two tables by key, with pyarrow hash joins (files: :mod:`rowfiles`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dvlin.errors import UsageError
from dvlin.values import sealed

SAMPLES = 5
_A, _B = "__dvlin_in_a", "__dvlin_in_b"


@sealed
@dataclass(frozen=True, slots=True)
class RowDiff:
    """Rows added, removed and changed between two tables, matched by ``key``."""

    key: tuple[str, ...]
    rows: tuple[int, int]
    added: int
    removed: int
    changed: int
    column_changes: dict[str, int]
    """Changed rows per value column (only columns present in both tables)."""
    not_compared: tuple[str, ...] = ()
    """Columns in both tables that could not be compared (nested types)."""
    samples: dict[str, list[Any]] = field(default_factory=dict)
    """A few rows of each kind, smallest keys first: ``added``/``removed`` hold key values;
    ``changed`` holds ``{"key": ..., "changes": {column: [old, new]}}``."""
    partitions: int = 1

    @property
    def unchanged(self) -> int:
        """Rows whose key and values are the same on both sides."""
        return self.rows[0] - self.removed - self.changed

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "key": list(self.key),
            "rows": list(self.rows),
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "column_changes": dict(self.column_changes),
            "not_compared": list(self.not_compared),
            "samples": self.samples,
            "partitions": self.partitions,
        }


def _comparable(t: Any) -> bool:
    import pyarrow as pa

    return not (pa.types.is_nested(t) or pa.types.is_dictionary(t))


def _common_type(t1: Any, t2: Any) -> Any:
    """The type both sides of a retyped column are compared in: Arrow's promotion, else text."""
    import pyarrow as pa

    try:
        unified = pa.unify_schemas(
            [pa.schema([("c", t1)]), pa.schema([("c", t2)])], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.string()
    return unified.field("c").type


def _prepare(
    ta: Any, tb: Any, keys: Sequence[str], label_a: str, label_b: str
) -> tuple[Any, Any, list[str], list[str]]:
    """Check the key, align types; return both tables with the value columns to compare."""
    import pyarrow as pa

    for name, t in ((label_a, ta), (label_b, tb)):
        missing = [k for k in keys if k not in t.column_names]
        if missing:
            raise UsageError(
                f"key column {missing[0]!r} is not in {name}",
                hint=f"columns there: {', '.join(t.column_names[:12])}",
            )
    for k in keys:
        if ta.schema.field(k).type != tb.schema.field(k).type:
            try:
                tb = tb.set_column(
                    tb.column_names.index(k), k, tb.column(k).cast(ta.schema.field(k).type)
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise UsageError(
                    f"key column {k!r} is {ta.schema.field(k).type} in {label_a} and "
                    f"{tb.schema.field(k).type} in {label_b}",
                    hint="diff by a key whose type did not change",
                ) from None
    shared = [c for c in ta.column_names if c in tb.column_names and c not in keys]
    compare, skipped = [], []
    for c in shared:
        t1, t2 = ta.schema.field(c).type, tb.schema.field(c).type
        if not (_comparable(t1) and _comparable(t2)):
            skipped.append(c)
            continue
        if t1 != t2:
            common = _common_type(t1, t2)
            try:
                ta = ta.set_column(ta.column_names.index(c), c, ta.column(c).cast(common))
                tb = tb.set_column(tb.column_names.index(c), c, tb.column(c).cast(common))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                skipped.append(c)
                continue
        compare.append(c)
    return ta.select([*keys, *compare]), tb.select([*keys, *compare]), compare, skipped


def _check_key(t: Any, keys: Sequence[str], label: str) -> None:
    import pyarrow.compute as pc

    for k in keys:
        if t.column(k).null_count:
            raise UsageError(
                f"key column {k!r} has {t.column(k).null_count} null values in {label}",
                hint="choose key columns that are never null",
            )
    if len(keys) == 1:
        # unique() is several times faster than a hash aggregation; count only on failure.
        if len(pc.unique(t.column(keys[0]))) == t.num_rows:
            return
    counts = t.group_by(list(keys)).aggregate([([], "count_all")])
    if counts.num_rows != t.num_rows:
        dup = counts.filter(pc.greater(counts.column("count_all"), 1)).slice(0, 1)
        example = {k: _py(dup.column(k)[0]) for k in keys}
        raise UsageError(
            f"key {', '.join(keys)} is not unique in {label} (e.g. {example})",
            hint="pass more columns to --key, comma-separated",
        )


def _py(scalar: Any) -> Any:
    """A cell as a JSON value: numbers, text and null as they are, anything else as text."""
    value = scalar.as_py()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value[:32].hex()
    return str(value)[:100]


def _key_of(table: Any, keys: Sequence[str], i: int) -> Any:
    if len(keys) == 1:
        return _py(table.column(keys[0])[i])
    return {k: _py(table.column(k)[i]) for k in keys}


def _smallest(table: Any, keys: Sequence[str], n: int) -> Any:
    import pyarrow.compute as pc

    if table.num_rows <= n:
        return table.sort_by([(k, "ascending") for k in keys])
    idx = pc.select_k_unstable(table, k=n, sort_keys=[(k, "ascending") for k in keys])
    return table.take(idx).sort_by([(k, "ascending") for k in keys])


def diff_tables(
    ta: Any, tb: Any, keys: Sequence[str], *, label_a: str = "a", label_b: str = "b"
) -> RowDiff:
    """Diff two in-memory Arrow tables by ``keys``."""
    ta, tb, compare, skipped = _prepare(ta, tb, keys, label_a, label_b)
    _check_key(ta, keys, label_a)
    _check_key(tb, keys, label_b)
    return _join(ta, tb, keys, compare, skipped)


def _trues(n: int) -> Any:
    import numpy as np
    import pyarrow as pa

    return pa.array(np.ones(n, dtype=bool))


def _join(ta: Any, tb: Any, keys: Sequence[str], compare: list[str], skipped: list[str]) -> RowDiff:
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = (ta.num_rows, tb.num_rows)
    a = ta.append_column(_A, _trues(ta.num_rows))
    b = tb.append_column(_B, _trues(tb.num_rows))
    a = a.rename_columns([*keys, *(c + "@a" for c in compare), _A])
    b = b.rename_columns([*keys, *(c + "@b" for c in compare), _B])
    j = a.join(b, keys=list(keys), join_type="full outer", coalesce_keys=True)
    in_a = pc.is_valid(j.column(_A))
    in_b = pc.is_valid(j.column(_B))
    added_t = j.filter(pc.invert(in_a)).select(list(keys))
    removed_t = j.filter(pc.invert(in_b)).select(list(keys))
    both = j.filter(pc.and_(in_a, in_b))
    column_changes: dict[str, int] = {}
    any_change = pc.invert(_trues(both.num_rows))
    masks: dict[str, Any] = {}
    for c in compare:
        x, y = both.column(c + "@a"), both.column(c + "@b")
        differ = pc.fill_null(pc.not_equal(x, y), False)
        differ = pc.or_(differ, pc.xor(pc.is_null(x), pc.is_null(y)))
        if pa.types.is_floating(x.type):
            both_nan = pc.and_(pc.fill_null(pc.is_nan(x), False), pc.fill_null(pc.is_nan(y), False))
            differ = pc.and_(differ, pc.invert(both_nan))
        count = pc.sum(differ).as_py() or 0
        column_changes[c] = count
        if count:
            masks[c] = differ
            any_change = pc.or_(any_change, differ)
    changed_t = both.filter(any_change)
    samples: dict[str, list[Any]] = {
        "added": [
            _key_of(t, keys, i)
            for t in [_smallest(added_t, keys, SAMPLES)]
            for i in range(t.num_rows)
        ],
        "removed": [
            _key_of(t, keys, i)
            for t in [_smallest(removed_t, keys, SAMPLES)]
            for i in range(t.num_rows)
        ],
        "changed": [],
    }
    if changed_t.num_rows:
        flags = {c: m for c, m in masks.items()}
        marked = both
        for c, m in flags.items():
            marked = marked.append_column("__changed_" + c, m)
        few = _smallest(marked.filter(any_change), keys, SAMPLES)
        for i in range(few.num_rows):
            changes = {
                c: [_py(few.column(c + "@a")[i]), _py(few.column(c + "@b")[i])]
                for c in flags
                if few.column("__changed_" + c)[i].as_py()
            }
            samples["changed"].append({"key": _key_of(few, keys, i), "changes": changes})
    return RowDiff(
        tuple(keys),
        rows,
        added_t.num_rows,
        removed_t.num_rows,
        changed_t.num_rows,
        column_changes,
        tuple(skipped),
        samples,
    )


def merge(parts: Sequence[RowDiff], keys: Sequence[str]) -> RowDiff:
    """Add up the diffs of disjoint key ranges."""

    def first(kind: str) -> list[Any]:
        found = [s for p in parts for s in p.samples.get(kind, [])]
        return sorted(found, key=lambda s: _order(s["key"] if kind == "changed" else s))[:SAMPLES]

    columns: dict[str, int] = {}
    for p in parts:
        for c, n in p.column_changes.items():
            columns[c] = columns.get(c, 0) + n
    return RowDiff(
        tuple(keys),
        (sum(p.rows[0] for p in parts), sum(p.rows[1] for p in parts)),
        sum(p.added for p in parts),
        sum(p.removed for p in parts),
        sum(p.changed for p in parts),
        columns,
        parts[0].not_compared if parts else (),
        {"added": first("added"), "removed": first("removed"), "changed": first("changed")},
        len(parts),
    )


def _order(key: Any) -> Any:
    values = list(key.values()) if isinstance(key, dict) else [key]
    return [(v is None, str(type(v)), v) for v in values]


def iter_changed(diff: RowDiff) -> Iterator[tuple[str, int]]:
    """The value columns that changed, most changes first."""
    yield from sorted(
        ((c, n) for c, n in diff.column_changes.items() if n), key=lambda cn: (-cn[1], cn[0])
    )
