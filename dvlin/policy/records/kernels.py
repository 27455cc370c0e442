"""The vectorised path: per-column JSON Schema keywords decided with pyarrow.compute.

Each kernel gives the verdict jsonschema would give for every row at once; rows whose text
Python's ``re`` and RE2 may read differently are patched with Python's verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# RFC 3339 as rfc3339_validator (jsonschema's date-time checker) reads it, in RE2 syntax.
_DATE_TIME = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)


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
    # Years are four digits, never negative: integer division gives the remainders
    # (pyarrow.compute has `remainder` only from pyarrow 24).
    century = pc.divide(year, 100)
    leap = pc.and_(
        pc.equal(pc.bit_wise_and(year, 3), 0),
        pc.or_(
            pc.not_equal(pc.multiply(century, 100), year),
            pc.equal(pc.bit_wise_and(century, 3), 0),
        ),
    )
    days = pc.add(days, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int32()))
    ok = pc.and_(
        shaped,
        pc.and_(pc.greater(year, 0), pc.and_(pc.greater_equal(day, 1), pc.less_equal(day, days))),
    )
    return _patch(arr, ok, _python_rows(arr), lambda v: validate_rfc3339(v.upper()))
