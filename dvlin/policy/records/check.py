"""The record check: one schema run over an asset's tables, verdicts accumulated per keyword."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvlin.policy.records.kernels import column_failures, column_vectorisable
from dvlin.policy.records.schema import compile_schema, to_records, validator_for
from dvlin.policy.results import MAX_EXAMPLES, RuleResult, jsonable, verdict

if TYPE_CHECKING:
    import pyarrow as pa


class _Failures:
    __slots__ = ("count", "examples")

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[dict[str, Any]] = []


class RecordCheck:
    """Runs one record schema over the batches of an asset's tables and reports per keyword."""

    def __init__(self, schema: dict[str, Any] | bool, *, source: str) -> None:
        self.compiled = compile_schema(schema)
        self.source = source
        self.rows = 0
        self.failed_rows = 0
        self.by_rule: dict[tuple[str, str], _Failures] = {}
        self.per_record_rows = 0

    def failures(self, batch: pa.RecordBatch) -> tuple[set[int], list[tuple[str, str, int, Any]]]:
        """Failing rows of one batch, and ``(column, keyword, row, value)`` for reporting."""
        import pyarrow as pa
        import pyarrow.compute as pc

        c = self.compiled
        names = set(batch.schema.names)
        found: list[tuple[str, str, int, Any]] = []
        rows: set[int] = set()
        residual_props: dict[str, Any] = {}

        def collect(col: str, kw: str, mask: pa.Array, arr: pa.Array | None) -> None:
            idx = pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist()
            if not idx:
                return
            rows.update(idx)
            values = arr.take(pa.array(idx[:MAX_EXAMPLES])).to_pylist() if arr is not None else []
            for n, i in enumerate(idx):
                found.append((col, kw, i, values[n] if n < len(values) else None))

        for col in c.required:
            if col not in names:
                collect(col, "required", pa.array([True] * batch.num_rows), None)
            else:
                arr = batch.column(col)
                collect(col, "required", pc.is_null(arr), None)
        if c.closed:
            for col in names - c.known:
                arr = batch.column(col)
                collect(col, "additionalProperties", pc.is_valid(arr), arr)
        for col, keywords in c.columns.items():
            if col not in names:
                continue
            arr = batch.column(col)
            if not column_vectorisable(keywords, arr.type):
                residual_props[col] = keywords
                continue
            try:
                masks = column_failures(arr, keywords)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                residual_props[col] = keywords
                continue
            for kw, mask in masks.items():
                collect(col, kw, mask, arr)
        residual = c.residual
        if residual_props:
            if residual is None:
                residual = {"properties": residual_props}
            elif isinstance(residual, dict) and residual is not c.schema:
                residual = {"properties": {**residual.get("properties", {}), **residual_props}}
        if residual is not None:
            self.per_record_rows += batch.num_rows
            found += self._per_record(batch, residual, rows)
        return rows, found

    def _per_record(
        self, batch: pa.RecordBatch, schema: dict[str, Any] | bool, rows: set[int]
    ) -> list[tuple[str, str, int, Any]]:
        validator = validator_for(schema)
        needed = None
        if isinstance(schema, dict) and set(schema) == {"properties"}:
            needed = list(schema["properties"])
        found = []
        for i, rec in enumerate(to_records(batch, needed)):
            for err in validator.iter_errors(rec):
                path = list(err.absolute_path)
                col = str(path[0]) if path else _required_name(err)
                found.append((col, str(err.validator), i, err.instance))
                rows.add(i)
        return found

    def feed(self, batch: pa.RecordBatch, *, file: str, offset: int) -> None:
        """Validate one batch whose first row is row ``offset`` of ``file``."""
        rows, found = self.failures(batch)
        self.rows += batch.num_rows
        self.failed_rows += len(rows)
        for col, kw, i, value in found:
            f = self.by_rule.setdefault((col, kw), _Failures())
            f.count += 1
            if len(f.examples) < MAX_EXAMPLES:
                f.examples.append({"file": file, "row": offset + i, "value": jsonable(value)})

    def feed_document(self, doc: Any, *, file: str) -> None:
        """Validate a whole JSON file as one instance."""
        validator = validator_for(self.compiled.schema)
        self.rows += 1
        errors = list(validator.iter_errors(doc))
        if errors:
            self.failed_rows += 1
        for err in errors:
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            f = self.by_rule.setdefault((where, str(err.validator)), _Failures())
            f.count += 1
            if len(f.examples) < MAX_EXAMPLES:
                f.examples.append({"file": file, "message": err.message[:200]})

    def results(self) -> list[RuleResult]:
        """One failing result per (column, keyword), or one passing result."""
        if not self.by_rule:
            return [
                verdict(
                    True,
                    "schema",
                    f"every record matches {self.source}",
                    f"{self.rows:,} records valid",
                    measured=0,
                )
            ]
        out = []
        for (col, kw), f in sorted(self.by_rule.items()):
            want = _keyword_text(self.compiled.schema, col, kw)
            out.append(
                verdict(
                    False,
                    "schema",
                    want,
                    f"{f.count:,} failing record{'s' if f.count != 1 else ''}",
                    column=col,
                    measured=f.count,
                    examples=tuple(f.examples),
                )
            )
        return out


def _required_name(err: Any) -> str:
    if err.validator == "required":
        import re

        m = re.match(r"'(.*)' is a required property", err.message)
        if m:
            return m.group(1)
    return "(record)"


def _keyword_text(schema: dict[str, Any] | bool, col: str, kw: str) -> str:
    if not isinstance(schema, dict):
        return f"schema {schema}"
    if kw == "required":
        return "present and not null"
    if kw == "additionalProperties":
        return "no column outside properties"
    sub = schema.get("properties", {}).get(col)
    if isinstance(sub, dict) and kw in sub:
        return f"{kw}: {sub[kw]!r}"[:80]
    return kw
