"""Quality rules for tables, evaluated batch by batch so memory stays bounded.

:class:`TableQuality` is fed the record batches of every table file of an asset and then
gives one :class:`RuleResult` per rule and column. Only ``unique`` keeps data between
batches: the key columns (about 8 MB per million int64 keys).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from dvlin.policy.config import Quality, format_duration
from dvlin.policy.results import MAX_EXAMPLES, RuleResult, jsonable, verdict

if TYPE_CHECKING:
    import pyarrow as pa


def examples_of(
    arr: pa.Array, mask: pa.Array, *, offset: int, file: str | None, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows where ``mask`` is true: ``{"file", "row", "value"}``."""
    import pyarrow.compute as pc

    if limit <= 0:
        return []
    idx = pc.indices_nonzero(pc.fill_null(mask, False))[:limit]
    values = arr.take(idx).to_pylist()
    return [
        {"file": file, "row": offset + int(i), "value": jsonable(v)}
        for i, v in zip(idx.to_pylist(), values, strict=True)
    ]


class _Count:
    """Failing rows of one rule and column: a count and the first few examples."""

    __slots__ = ("bad", "examples", "note")

    def __init__(self) -> None:
        self.bad = 0
        self.examples: list[dict[str, Any]] = []
        self.note: str | None = None

    def add(self, arr: pa.Array, mask: pa.Array, *, offset: int, file: str | None) -> None:
        import pyarrow.compute as pc

        n = pc.sum(pc.cast(pc.fill_null(mask, False), "int64")).as_py() or 0
        if n:
            self.bad += n
            room = MAX_EXAMPLES - len(self.examples)
            self.examples += examples_of(arr, mask, offset=offset, file=file, limit=room)


class TableQuality:
    """Accumulates the table rules of one asset over record batches."""

    def __init__(self, quality: Quality, *, now: dt.datetime) -> None:
        self.q = quality
        self.now = now
        self.rows = 0
        self.nulls: dict[str, _Count] = {c: _Count() for c in self._null_columns()}
        self.range = {c: _Count() for c in quality.range}
        self.allowed = {c: _Count() for c in quality.allowed}
        self.pattern = {c: _Count() for c in quality.pattern}
        self.newest: dict[str, dt.datetime | None] = dict.fromkeys(quality.fresh_within)
        self.fresh_notes: dict[str, str] = {}
        self.keys: dict[tuple[str, ...], list[Any]] = {cols: [] for cols in quality.unique}
        self.missing: dict[str, set[str]] = {}
        self.files: list[str] = []

    def _null_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.q.not_null, *self.q.max_null_fraction]))

    def _columns(self) -> set[str]:
        q = self.q
        cols = set(self._null_columns()) | set(q.range) | set(q.allowed) | set(q.pattern)
        cols |= set(q.fresh_within)
        for key in q.unique:
            cols |= set(key)
        return cols

    def start_file(self, file: str, names: list[str]) -> None:
        """A new table file whose columns are ``names``."""
        self.files.append(file)
        for col in self._columns() - set(names):
            self.missing.setdefault(col, set()).add(file)

    def feed(self, batch: pa.RecordBatch, *, file: str, offset: int) -> None:
        """Account for one batch whose first row is row ``offset`` of ``file``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self.rows += batch.num_rows
        names = set(batch.schema.names)
        for col, count in self.nulls.items():
            if col in names:
                arr = batch.column(col)
                if arr.null_count:
                    count.add(arr, pc.is_null(arr), offset=offset, file=file)
        for col, (low, high) in self.q.range.items():
            if col not in names:
                continue
            arr = batch.column(col)
            count = self.range[col]
            if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
                count.note = f"column is {arr.type}, not numeric"
                continue
            bad = pa.array([False] * len(arr))
            if low is not None:
                bad = pc.or_(bad, pc.less(arr, low))
            if high is not None:
                bad = pc.or_(bad, pc.greater(arr, high))
            count.add(arr, bad, offset=offset, file=file)
        for col, values in self.q.allowed.items():
            if col in names:
                arr = batch.column(col)
                ok = _is_in(arr, values)
                self.allowed[col].add(arr, pc.invert(ok), offset=offset, file=file)
        for col, regex in self.q.pattern.items():
            if col in names:
                arr = batch.column(col)
                self.pattern[col].add(
                    arr, pc.invert(match_regex(arr, regex)), offset=offset, file=file
                )
        for col in self.q.fresh_within:
            if col in names:
                self._newest(col, batch.column(col))
        for key, parts in self.keys.items():
            if set(key) <= names:
                parts.append(batch.select(list(key)))

    def _newest(self, col: str, arr: pa.Array) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            try:
                arr = pc.cast(arr, pa.timestamp("us", "UTC"))
            except pa.ArrowInvalid:
                try:
                    arr = pc.cast(arr, pa.timestamp("us"))
                except pa.ArrowInvalid:
                    self.fresh_notes[col] = "values are not ISO 8601 timestamps"
                    return
        if not (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)):
            self.fresh_notes[col] = f"column is {arr.type}, not a timestamp or date"
            return
        top = pc.max(arr).as_py()
        if top is None:
            return
        if not isinstance(top, dt.datetime):
            top = dt.datetime(top.year, top.month, top.day)
        if top.tzinfo is None:
            top = top.replace(tzinfo=dt.UTC)  # naive timestamps are taken as UTC
        old = self.newest[col]
        if old is None or top > old:
            self.newest[col] = top

    def results(self) -> list[RuleResult]:
        """One result per rule and column, in the order the rules are documented."""
        q = self.q
        out: list[RuleResult] = []
        single = self.files[0] if len(self.files) == 1 else None
        if q.min_rows is not None:
            out.append(
                verdict(
                    self.rows >= q.min_rows,
                    "min_rows",
                    f"≥ {q.min_rows:,} rows",
                    f"{self.rows:,} rows",
                    measured=self.rows,
                    file=single,
                )
            )
        if q.max_rows is not None:
            out.append(
                verdict(
                    self.rows <= q.max_rows,
                    "max_rows",
                    f"≤ {q.max_rows:,} rows",
                    f"{self.rows:,} rows",
                    measured=self.rows,
                    file=single,
                )
            )
        for col in q.not_null:
            out.append(self._missing_or(col, rule="not_null") or self._not_null(col, single))
        for key in q.unique:
            out.append(self._missing_or(*key, rule="unique") or self._unique(key, single))
        for col, limit in q.max_null_fraction.items():
            out.append(
                self._missing_or(col, rule="max_null_fraction") or self._null_fraction(col, limit)
            )
        for col, (low, high) in q.range.items():
            lo = "−∞" if low is None else f"{low:g}"
            hi = "∞" if high is None else f"{high:g}"
            out.append(
                self._missing_or(col, rule="range")
                or self._counted("range", col, self.range[col], f"within [{lo}, {hi}]", "outside")
            )
        for col, values in q.allowed.items():
            shown = ", ".join(str(v) for v in values[:6]) + (" …" if len(values) > 6 else "")
            out.append(
                self._missing_or(col, rule="allowed")
                or self._counted("allowed", col, self.allowed[col], f"one of {shown}", "other")
            )
        for col, regex in q.pattern.items():
            out.append(
                self._missing_or(col, rule="pattern")
                or self._counted(
                    "pattern", col, self.pattern[col], f"matches {regex}", "non-matching"
                )
            )
        for col, limit in q.fresh_within.items():
            out.append(self._missing_or(col, rule="fresh_within") or self._fresh(col, limit))
        return out

    def _missing_or(self, *cols: str, rule: str) -> RuleResult | None:
        absent = [c for c in cols if c in self.missing]
        if not self.files:
            return verdict(
                False, rule, "a table file", "no table files", column=",".join(cols) or None
            )
        if not absent:
            return None
        where = sorted(set().union(*(self.missing[c] for c in absent)))
        return verdict(
            False,
            rule,
            f"column {absent[0]!r}",
            f"column {absent[0]!r} missing from {', '.join(where[:3])}",
            column=",".join(cols),
        )

    def _not_null(self, col: str, file: str | None) -> RuleResult:
        c = self.nulls[col]
        return verdict(
            c.bad == 0,
            "not_null",
            "no nulls",
            f"{c.bad:,} null{'s' if c.bad != 1 else ''}" if c.bad else "no nulls",
            column=col,
            file=file,
            measured=c.bad,
            examples=tuple(c.examples),
        )

    def _null_fraction(self, col: str, limit: float) -> RuleResult:
        nulls = self.nulls[col].bad
        frac = nulls / self.rows if self.rows else 0.0
        return verdict(
            frac <= limit,
            "max_null_fraction",
            f"≤ {limit:.2%} nulls",
            f"{frac:.2%} nulls ({nulls:,} of {self.rows:,})",
            column=col,
            measured=frac,
        )

    def _counted(self, rule: str, col: str, c: _Count, expected: str, word: str) -> RuleResult:
        if c.note:
            return verdict(False, rule, expected, c.note, column=col)
        return verdict(
            c.bad == 0,
            rule,
            expected,
            f"{c.bad:,} {word} values" if c.bad else "all values",
            column=col,
            measured=c.bad,
            examples=tuple(c.examples),
        )

    def _unique(self, key: tuple[str, ...], file: str | None) -> RuleResult:
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = self.keys[key]
        name = ",".join(key)
        try:
            table = pa.Table.from_batches(parts) if parts else None
        except pa.ArrowInvalid:  # files disagree on a key column's type
            table = pa.concat_tables(
                [pa.Table.from_batches([b]) for b in parts], promote_options="permissive"
            )
        dups = 0
        examples: list[Any] = []
        if table is not None and table.num_rows:
            mask = None
            for col in key:  # rows with a null in the key are left to not_null
                valid = pc.is_valid(table.column(col))
                mask = valid if mask is None else pc.and_(mask, valid)
            table = table.filter(mask)
            counts = table.group_by(list(key)).aggregate([([], "count_all")])
            repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
            dups = repeated.num_rows
            for row in repeated.slice(0, MAX_EXAMPLES).to_pylist():
                value = [jsonable(row[c]) for c in key]
                examples.append(
                    {"value": value[0] if len(key) == 1 else value, "count": row["count_all"]}
                )
        shown = ", ".join(str(e["value"]) for e in examples[:2])
        return verdict(
            dups == 0,
            "unique",
            "no duplicates",
            f"{dups:,} duplicate values (e.g. {shown})" if dups else "no duplicates",
            column=name,
            file=file,
            measured=dups,
            examples=tuple(examples),
        )

    def _fresh(self, col: str, limit: float) -> RuleResult:
        expected = f"newest ≤ {format_duration(limit)} old"
        if col in self.fresh_notes:
            return verdict(False, "fresh_within", expected, self.fresh_notes[col], column=col)
        newest = self.newest[col]
        if newest is None:
            return verdict(False, "fresh_within", expected, "no values", column=col)
        age = (self.now - newest).total_seconds()
        return verdict(
            age <= limit,
            "fresh_within",
            expected,
            f"newest is {format_duration(max(age, 0))} old ({newest.isoformat()})",
            column=col,
            measured=age,
        )


def _is_in(arr: pa.Array, values: tuple[Any, ...]) -> pa.Array:
    """Per row: is the value one of ``values`` (nulls count as allowed: not_null's job)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        value_set = pa.array(values).cast(arr.type)
        if pa.types.is_floating(arr.type):  # -0.0 + 0.0 is 0.0: is_in compares bits
            arr, value_set = pc.add(arr, 0.0), pc.add(value_set, 0.0)
        hit = pc.is_in(arr, value_set=value_set)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        text = pc.cast(arr, pa.string())
        hit = pc.is_in(text, value_set=pa.array([str(v) for v in values]))
    return pc.or_(hit, pc.is_null(arr))


def match_regex(arr: pa.Array, regex: str) -> pa.Array:
    """Per row: does ``regex`` match anywhere in the value (``re.search``); nulls pass.

    pyarrow's RE2 does the work; a pattern RE2 cannot compile (look-arounds, back
    references) falls back to Python's ``re``, value by value.
    """
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
    try:
        hit = pc.match_substring_regex(text, regex)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        compiled = re.compile(regex)
        hit = pa.array(
            [None if v is None else compiled.search(v) is not None for v in text.to_pylist()],
            pa.bool_(),
        )
    return pc.fill_null(hit, True)
