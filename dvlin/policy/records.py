"""JSON Schema (2020-12) for every record of a table: vectorised where it can be, exact always.

A record is one row as a JSON object; a null cell is an *absent* property (so ``required``
means "present and not null", and a nullable column is an optional property). Timestamps are
RFC 3339 strings, dates ``YYYY-MM-DD``.

:func:`compile_schema` splits a schema: per-column keywords that pyarrow.compute can decide
(``type``, ``enum``, ``const``, the ``minimum``/``maximum`` family, ``minLength``/``maxLength``,
``pattern``, ``format: date-time``) plus the top-level ``required`` and ``additionalProperties:
false`` run over whole record batches; everything else is left in a *residual* schema that
jsonschema applies record by record. Both give the same verdicts — a property test holds
them to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.policy.results import MAX_EXAMPLES, RuleResult, jsonable, verdict
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
# RFC 3339 as rfc3339_validator (jsonschema's date-time checker) reads it, in RE2 syntax.
_DATE_TIME = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


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


# -- the vectorised path ----------------------------------------------------------------------


def _json_kind(t: pa.DataType) -> str | None:
    """The JSON type every value of an Arrow type becomes, or None when not vectorised."""
    import pyarrow as pa

    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "array"
    if pa.types.is_struct(t):
        return "object"
    return None


_STRING_CONTENT = frozenset({"enum", "const", "minLength", "maxLength", "pattern"})


def column_vectorisable(keywords: dict[str, Any], t: pa.DataType) -> bool:
    """Whether the keywords can be decided in bulk for a column of Arrow type ``t``."""
    kind = _json_kind(t)
    if kind is None:
        return False
    if kind in ("timestamp", "date"):
        return not (_STRING_CONTENT & set(keywords))
    if kind in ("array", "object"):
        return not ({"enum", "const"} & set(keywords))
    return True


def column_failures(arr: pa.Array, keywords: dict[str, Any]) -> dict[str, pa.Array]:
    """For each keyword, a mask of the rows of ``arr`` that fail it (nulls never fail)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    kind = _json_kind(arr.type)
    valid = pc.is_valid(arr)
    out: dict[str, pa.Array] = {}

    def fail(name: str, mask: Any) -> None:
        out[name] = pc.and_(valid, pc.fill_null(mask, True))

    if "type" in keywords:
        types = keywords["type"]
        types = [types] if isinstance(types, str) else list(types)
        if kind == "integer":
            ok_all = "integer" in types or "number" in types
        elif kind == "float":
            ok_all = "number" in types
        elif kind in ("string", "timestamp", "date"):
            ok_all = "string" in types
        elif kind == "null":
            ok_all = True
        else:
            ok_all = kind in types
        if kind == "float" and not ok_all and "integer" in types:
            integral = pc.and_(pc.is_finite(arr), pc.equal(pc.floor(arr), arr))
            fail("type", pc.invert(integral))
        elif not ok_all:
            fail("type", valid)
    enum = None
    if "const" in keywords:
        enum = [keywords["const"]]
        enum_kw = "const"
    if "enum" in keywords:
        if enum is not None:
            fail("const", pc.invert(_in(arr, kind, enum)))
        enum = list(keywords["enum"])
        enum_kw = "enum"
    if enum is not None:
        fail(enum_kw, pc.invert(_in(arr, kind, enum)))
    if kind in ("integer", "float"):
        for kw, op in (
            ("minimum", pc.less),
            ("maximum", pc.greater),
            ("exclusiveMinimum", pc.less_equal),
            ("exclusiveMaximum", pc.greater_equal),
        ):
            bound = keywords.get(kw)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                fail(kw, op(arr, pa.scalar(bound, pa.float64() if kind == "float" else None)))
    if kind == "string":
        if "minLength" in keywords or "maxLength" in keywords:
            length = pc.utf8_length(arr)
            if "minLength" in keywords:
                fail("minLength", pc.less(length, keywords["minLength"]))
            if "maxLength" in keywords:
                fail("maxLength", pc.greater(length, keywords["maxLength"]))
        if "pattern" in keywords:
            fail("pattern", pc.invert(_search(arr, keywords["pattern"])))
        if keywords.get("format") == "date-time":
            fail("format", pc.invert(_date_time(arr)))
    elif kind == "date" and keywords.get("format") == "date-time":
        fail("format", valid)  # a bare date is not an RFC 3339 date-time
    return out


def _in(arr: pa.Array, kind: str | None, values: list[Any]) -> pa.Array:
    """Per row: equal (as JSON Schema compares) to one of ``values``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "string":
        wanted = [v for v in values if isinstance(v, str)]
        return pc.is_in(arr, value_set=pa.array(wanted, pa.string()).cast(arr.type))
    if kind == "boolean":
        return pc.is_in(
            arr, value_set=pa.array([v for v in values if isinstance(v, bool)], pa.bool_())
        )
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if kind == "integer":
        ints = [int(v) for v in numbers if isinstance(v, int) or float(v).is_integer()]
        ints = [v for v in ints if -(2**63) <= v < 2**63]
        return pc.is_in(pc.cast(arr, pa.int64(), safe=False), value_set=pa.array(ints, pa.int64()))
    if kind == "float":
        # Adding 0.0 turns -0.0 into 0.0: JSON Schema compares numbers (-0.0 == 0), while
        # is_in hashes bits.
        return pc.is_in(
            pc.add(pc.cast(arr, pa.float64()), 0.0),
            value_set=pa.array([float(v) + 0.0 for v in numbers], pa.float64()),
        )
    return pa.array([False] * len(arr), pa.bool_())


def _python_rows(arr: pa.Array) -> pa.Array:
    """Rows whose text Python's ``re`` and RE2 may read differently (non-ASCII, newlines)."""
    import pyarrow.compute as pc

    return pc.or_(pc.invert(pc.string_is_ascii(arr)), pc.match_substring(arr, "\n"))


def _patch(arr: pa.Array, hit: pa.Array, rows: pa.Array, test: Any) -> pa.Array:
    """Replace ``hit`` at ``rows`` by Python's verdict ``test(value)``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = pc.fill_null(rows, False)
    if not pc.any(rows).as_py():
        return hit
    values = arr.to_pylist()
    flags = hit.to_pylist()
    for i in pc.indices_nonzero(rows).to_pylist():
        flags[i] = test(values[i])
    return pa.array(flags, pa.bool_())


def _search(arr: pa.Array, regex: str) -> pa.Array:
    """``re.search(regex, value)`` per row, with RE2 doing the ASCII, single-line rows."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    compiled = re.compile(regex)
    try:
        hit = pc.match_substring_regex(arr, regex)
        rows = _python_rows(arr)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # RE2 cannot compile it
        hit = pa.array([False] * len(arr), pa.bool_())
        rows = pc.is_valid(arr)
    return _patch(arr, hit, rows, lambda v: compiled.search(v) is not None)


def _date_time(arr: pa.Array) -> pa.Array:
    """RFC 3339 date-time per row, as jsonschema's format checker decides it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from rfc3339_validator import validate_rfc3339

    shaped = pc.match_substring_regex(arr, _DATE_TIME)
    text = pc.if_else(shaped, arr, pa.scalar("0001-01-01", arr.type))
    year = pc.cast(pc.utf8_slice_codeunits(text, 0, 4), pa.int32())
    month = pc.cast(pc.utf8_slice_codeunits(text, 5, 7), pa.int32())
    day = pc.cast(pc.utf8_slice_codeunits(text, 8, 10), pa.int32())
    days = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int32()).take(month)
    leap = pc.and_(
        pc.equal(pc.bit_wise_and(year, 3), 0),
        pc.or_(pc.not_equal(pc.remainder(year, 100), 0), pc.equal(pc.remainder(year, 400), 0)),
    )
    days = pc.add(days, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int32()))
    ok = pc.and_(
        shaped,
        pc.and_(pc.greater(year, 0), pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, days))),
    )
    return _patch(arr, ok, _python_rows(arr), lambda v: validate_rfc3339(v.upper()))


# -- accumulating verdicts over a table -------------------------------------------------------


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
