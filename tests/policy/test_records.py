"""Record JSON Schema: format checking is really on, and the vectorised path agrees with jsonschema."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.ops.check import check
from dvlin.policy.records import RecordCheck, compile_schema, record_failures, validator_for
from tests.policy.conftest import FORMATS, write_policy, write_table

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "ts"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "ts": {"type": "string", "format": "date-time"},
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
        "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "kind": {"enum": ["a", "b"]},
        "flag": {"const": True},
    },
}


def vector_failures(batch: pa.RecordBatch, schema: Any) -> set[int]:
    rc = RecordCheck(schema, source="s")
    rows, _ = rc.failures(batch)
    return rows


def test_date_time_format_is_really_checked() -> None:
    v = validator_for({"type": "string", "format": "date-time"})
    assert v.is_valid("2026-11-26T08:00:00Z")
    assert not v.is_valid("2026-11-26 08:00")
    assert not v.is_valid("2026-02-30T08:00:00Z")
    batch = pa.record_batch(
        {
            "ts": [
                "2026-11-26T08:00:00Z",
                "yesterday",
                "2024-02-29T00:00:00+01:00",
                "2023-02-29T00:00:00Z",
                "2000-02-29T00:00:00Z",  # divisible by 400: a leap year
                "1900-02-29T00:00:00Z",  # by 100, not 400: not one
                "2100-02-29T00:00:00Z",
                "1600-02-29T00:00:00Z",
                "2200-02-29T00:00:00Z",  # an even century not divisible by 400: not one
            ]
        }
    )
    schema = {"properties": {"ts": {"format": "date-time"}}}
    assert compile_schema(schema).fully_vectorised
    assert vector_failures(batch, schema) == record_failures(batch, schema) == {1, 3, 5, 6, 8}


@pytest.mark.parametrize("fmt", FORMATS)
def test_schema_on_tables(repo: Repo, fmt: str) -> None:
    (repo.root / "s.json").write_text(json.dumps(SCHEMA))
    write_policy(repo.root, '[assets.t]\npath = "data/t"\nschema = "s.json"\n')
    good = {
        "id": [1, 2],
        "ts": ["2026-11-26T08:00:00Z", "2026-11-26T09:00:00+02:00"],
        "name": ["ab", "xyz"],
        "score": [0.5, 1.0],
        "kind": ["a", "b"],
        "flag": [True, None],
    }
    write_table(repo.root / "data/t/x", good, fmt)
    (a,) = check(repo).assets
    assert [r.passed for r in a.results] == [True], a.results
    bad = {**good, "ts": ["2026-11-26T08:00:00Z", "not a time"], "score": [0.0, 0.5]}
    write_table(repo.root / "data/t/x", bad, fmt)
    (a,) = check(repo).assets
    failed = {(r.column, r.found) for r in a.results if not r.passed}
    assert failed == {("ts", "1 failing record"), ("score", "1 failing record")}
    ts = next(r for r in a.results if r.column == "ts")
    assert ts.examples == ({"file": f"x.{fmt}", "row": 1, "value": "not a time"},)


def test_keywords_that_cannot_be_vectorised_fall_back(repo: Repo) -> None:
    schema = {
        "properties": {"n": {"type": "integer", "multipleOf": 3}, "s": {"type": "string"}},
        "required": ["n"],
    }
    compiled = compile_schema(schema)
    assert set(compiled.columns) == {"s"} and compiled.residual == {
        "properties": {"n": schema["properties"]["n"]}
    }
    batch = pa.record_batch({"n": [3, 4, None], "s": ["a", "b", "c"]})
    assert vector_failures(batch, schema) == record_failures(batch, schema) == {1, 2}
    whole = {"allOf": [{"required": ["s"]}], "properties": {"s": {"maxLength": 0}}}
    assert compile_schema(whole).residual == whole
    assert vector_failures(batch, whole) == record_failures(batch, whole) == {0, 1, 2}


def test_json_documents_are_validated_whole(repo: Repo) -> None:
    (repo.root / "s.json").write_text(json.dumps({"type": "object", "required": ["version"]}))
    write_policy(repo.root, '[assets.c]\npath = "cfg"\nschema = "s.json"\n')
    (repo.root / "cfg").mkdir()
    (repo.root / "cfg/a.json").write_text('{"version": 1}')
    assert check(repo).passed
    (repo.root / "cfg/b.json").write_text('{"other": 1}')
    (a,) = check(repo).assets
    assert not a.passed and a.results[0].examples[0]["file"] == "b.json"


def test_additional_properties_false_and_timestamps() -> None:
    schema = {
        "additionalProperties": False,
        "properties": {
            "t": {"type": "string", "format": "date-time"},
            "d": {"format": "date-time"},
        },
    }
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    batch = pa.record_batch(
        {
            "t": pa.array([now, None], pa.timestamp("us", "UTC")),
            "d": pa.array([None, dt.date(2026, 1, 1)]),
            "extra": [None, 1],
        }
    )
    assert vector_failures(batch, schema) == record_failures(batch, schema) == {1}


# -- the property: both paths agree on random records ------------------------------------------

_ints = st.one_of(st.none(), st.integers(-5, 5))
_floats = st.one_of(
    st.none(),
    st.floats(-3, 3),
    st.sampled_from([1.0, 2.0, -0.0, float("nan"), float("inf"), 1e300]),
)
_texts = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "a",
            "ab",
            "abc",
            "AB",
            "a1",
            "é",
            "ab\n",
            "2026-11-26T08:00:00Z",
            "2026-11-26t08:00:00z",
            "2024-02-30T00:00:00Z",
            "2026-11-26T08:00:00+25:00",
            "0000-01-01T00:00:00Z",
            "2026-11-26T08:00:00.5-01:30",
            "2026-11-26T08:00:00Z\n",
        ]
    ),
    st.text(max_size=6),
)
_bools = st.one_of(st.none(), st.booleans())


@st.composite
def _property(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    sub: dict[str, Any] = {}
    types = {
        "int": ["integer", "number", "string"],
        "float": ["integer", "number", "boolean"],
        "text": ["string", "integer"],
        "bool": ["boolean", "integer"],
    }[kind]
    if draw(st.booleans()):
        sub["type"] = draw(
            st.sampled_from(types)
            | st.lists(st.sampled_from(types), min_size=1, max_size=2, unique=True)
        )
    if kind in ("int", "float"):
        for kw in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if draw(st.booleans()):
                sub[kw] = draw(st.integers(-3, 3) | st.floats(-3, 3))
    if kind == "text":
        if draw(st.booleans()):
            sub["minLength"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            sub["maxLength"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            sub["pattern"] = draw(
                st.sampled_from(["^[a-z]+$", "b", "^a", "\\d", "^.{2}$", "[A-Z]", "\\w+$"])
            )
        if draw(st.booleans()):
            sub["format"] = "date-time"
    if draw(st.booleans()):
        pool = {
            "int": [0, 1, 2, 1.0, 2.5, True, "1"],
            "float": [0, 1.0, 2.5, -0.0, False],
            "text": ["a", "ab", "", 1],
            "bool": [True, False, 1, 0],
        }[kind]
        values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))
        if draw(st.booleans()):
            sub["enum"] = values
        else:
            sub["const"] = values[0]
    return sub


@st.composite
def _case(draw: st.DrawFn) -> tuple[pa.RecordBatch, dict[str, Any]]:
    n = draw(st.integers(1, 12))
    columns = {
        "i": pa.array(draw(st.lists(_ints, min_size=n, max_size=n)), pa.int64()),
        "f": pa.array(draw(st.lists(_floats, min_size=n, max_size=n)), pa.float64()),
        "s": pa.array(draw(st.lists(_texts, min_size=n, max_size=n)), pa.string()),
        "b": pa.array(draw(st.lists(_bools, min_size=n, max_size=n)), pa.bool_()),
    }
    kinds = {"i": "int", "f": "float", "s": "text", "b": "bool"}
    props = {c: draw(_property(kinds[c])) for c in columns if draw(st.booleans())}
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if draw(st.booleans()):
        schema["required"] = draw(
            st.lists(st.sampled_from(["i", "f", "s", "b", "zz"]), max_size=2, unique=True)
        )
    if draw(st.booleans()):
        schema["additionalProperties"] = False
    return pa.record_batch(columns), schema


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_vectorised_and_per_record_agree(case: tuple[pa.RecordBatch, dict[str, Any]]) -> None:
    batch, schema = case
    assert compile_schema(schema).fully_vectorised
    assert vector_failures(batch, schema) == record_failures(batch, schema)
