"""Compiling a record schema: what pyarrow.compute decides, what jsonschema must.

:func:`compile_schema` splits a schema: per-column keywords that pyarrow.compute can decide
(``type``, ``enum``, ``const``, the ``minimum``/``maximum`` family, ``minLength``/``maxLength``,
``pattern``, ``format: date-time``) plus the top-level ``required`` and ``additionalProperties:
false`` run over whole record batches; everything else is left in a *residual* schema that
jsonschema applies record by record (:func:`to_records` gives the rows as jsonschema sees them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.values import sealed

if TYPE_CHECKING:
    import pyarrow as pa

VECTOR_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "format",
    }
)
ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "$comment",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
    }
)
_TOP_LEVEL = frozenset({"type", "properties", "required", "additionalProperties"}) | ANNOTATIONS


def validator_for(schema: dict[str, Any] | bool) -> Any:
    """A 2020-12 validator with format checking on (``date-time`` really is checked)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@sealed
@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """A record schema split into vectorised column checks and a per-record residual."""

    schema: dict[str, Any] | bool
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Column → the keywords decided with pyarrow.compute."""
    required: tuple[str, ...] = ()
    closed: bool = False
    """``additionalProperties: false``: a non-null column outside ``properties`` fails."""
    known: frozenset[str] = frozenset()
    residual: dict[str, Any] | bool | None = None
    """What jsonschema must check record by record (None: nothing)."""

    @property
    def fully_vectorised(self) -> bool:
        """True when no keyword needs the per-record path."""
        return self.residual is None


def _vectorisable(sub: Any) -> bool:
    if not isinstance(sub, dict) or not set(sub) <= VECTOR_KEYWORDS | ANNOTATIONS:
        return False
    if "format" in sub and sub["format"] != "date-time":
        return False
    types = sub.get("type", [])
    if not isinstance(types, str | list):
        return False
    for key in ("enum", "const"):
        values = sub.get(key, []) if key == "enum" else [sub.get(key)]
        if key in sub and any(isinstance(v, dict | list) for v in values):
            return False
    return True


def compile_schema(schema: dict[str, Any] | bool) -> CompiledSchema:
    """Split ``schema`` into what pyarrow.compute decides and what jsonschema must."""
    if not isinstance(schema, dict):
        return CompiledSchema(schema, residual=None if schema is True else schema)
    extra = schema.get("additionalProperties", True)
    top_type = schema.get("type", "object")
    if (
        not set(schema) <= _TOP_LEVEL
        or extra not in (True, False)
        or top_type not in ("object", ["object"])
        or not isinstance(schema.get("properties", {}), dict)
    ):
        return CompiledSchema(schema, residual=schema)
    columns: dict[str, dict[str, Any]] = {}
    residual: dict[str, Any] = {}
    for name, sub in schema.get("properties", {}).items():
        if sub is True or sub == {}:
            continue
        if _vectorisable(sub):
            columns[name] = {k: v for k, v in sub.items() if k in VECTOR_KEYWORDS}
        else:
            residual[name] = sub
    return CompiledSchema(
        schema,
        columns=columns,
        required=tuple(schema.get("required", ())),
        closed=extra is False,
        known=frozenset(schema.get("properties", {})),
        residual={"properties": residual} if residual else None,
    )


# -- records as jsonschema sees them ----------------------------------------------------------


def to_records(batch: pa.RecordBatch, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows of ``batch`` as JSON objects: nulls dropped, times as RFC 3339 strings."""
    import pyarrow as pa

    if columns is not None:
        batch = batch.select([c for c in columns if c in batch.schema.names])
    arrays = []
    for arr in batch.columns:
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if pa.types.is_timestamp(arr.type) and arr.type.unit == "ns":
            arr = arr.cast(pa.timestamp("us", arr.type.tz), safe=False)
        arrays.append(arr)
    names = batch.schema.names
    lists = [_py_values(a) for a in arrays]
    return [
        {n: v for n, v in zip(names, row, strict=True) if v is not None}
        for row in zip(*lists, strict=True)
    ] or [{} for _ in range(batch.num_rows)]


def _py_values(arr: pa.Array) -> list[Any]:
    import datetime as dt

    import pyarrow as pa

    values: list[Any] = arr.to_pylist()
    if pa.types.is_timestamp(arr.type):
        return [
            None
            if v is None
            else (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).isoformat().replace("+00:00", "Z")
            for v in values
        ]
    if pa.types.is_date(arr.type):
        return [None if v is None else v.isoformat() for v in values]
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
        return [None if v is None else v.hex() for v in values]
    return values


def record_failures(batch: pa.RecordBatch, schema: dict[str, Any] | bool) -> set[int]:
    """Rows of ``batch`` that fail ``schema``, by plain per-record jsonschema."""
    validator = validator_for(schema)
    return {i for i, rec in enumerate(to_records(batch)) if not validator.is_valid(rec)}
