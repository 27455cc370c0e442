"""Quality rules for tables and any asset, passing and failing, on real Parquet, CSV and JSON lines."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from dvlin import Repo
from dvlin.ops.check import check
from dvlin.policy.config import Quality
from dvlin.policy.files import file_rules
from dvlin.policy.quality import TableQuality
from tests.policy.conftest import FORMATS, write_policy, write_table

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
GOOD: dict[str, list[Any]] = {
    "id": [1, 2, 3, 4],
    "ts": ["2026-11-25T12:00:00Z", "2026-11-26T00:00:00Z", "2026-11-20T00:00:00Z", None],
    "country": ["de", "fr", "us", None],
    "amount": [0.0, 10.5, 99.0, 100.0],
    "channel": ["web", "app", "web", "store"],
}
RULES = """
[assets.t]
path = "data/t"
[assets.t.quality]
min_rows = 3
max_rows = 10
not_null = ["id"]
unique = ["id", ["channel", "country"]]
max_null_fraction = { country = 0.25 }
range = { amount = [0, 100] }
allowed = { channel = ["web", "app", "store"] }
pattern = { country = "^[a-z]{2}$" }
fresh_within = { ts = "2d" }
"""
# Each case: a change to GOOD and the one rule (and column) it must break.
BREAKS: list[tuple[str, dict[str, list[Any]], str, str | None]] = [
    ("too few rows", {k: v[:2] for k, v in GOOD.items()}, "min_rows", None),
    ("a null id", {"id": [1, None, 3, 4]}, "not_null", "id"),
    ("a duplicate id", {"id": [1, 2, 2, 4]}, "unique", "id"),
    (
        "duplicate pair",
        {"channel": ["web", "web", "web", "store"], "country": ["de", "de", "us", None]},
        "unique",
        "channel,country",
    ),
    ("too many nulls", {"country": ["de", None, "us", None]}, "max_null_fraction", "country"),
    ("out of range", {"amount": [0.0, 10.5, 99.0, 100.5]}, "range", "amount"),
    ("not allowed", {"channel": ["web", "app", "fax", "store"]}, "allowed", "channel"),
    ("bad pattern", {"country": ["de", "FR", "us", None]}, "pattern", "country"),
    ("stale", {"ts": ["2026-11-01T00:00:00Z"] * 3 + [None]}, "fresh_within", "ts"),
]


def _run(repo: Repo, columns: dict[str, list[Any]], fmt: str) -> dict[tuple[str, str | None], bool]:
    write_policy(repo.root, RULES)
    write_table(repo.root / "data/t/part", columns, fmt)
    report = check(repo, now=NOW)
    (a,) = report.assets
    return {(r.rule, r.column): r.passed for r in a.results}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_rule_passes_on_good_data(repo: Repo, fmt: str) -> None:
    verdicts = _run(repo, GOOD, fmt)
    assert len(verdicts) == 10
    assert all(verdicts.values()), verdicts


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("case", "change", "rule", "column"), BREAKS, ids=[b[0] for b in BREAKS])
def test_each_rule_fails_alone(
    repo: Repo, fmt: str, case: str, change: dict[str, list[Any]], rule: str, column: str | None
) -> None:
    verdicts = _run(repo, {**GOOD, **change}, fmt)
    assert [k for k, ok in verdicts.items() if not ok] == [(rule, column)], case


def test_max_rows_and_examples(repo: Repo) -> None:
    write_policy(
        repo.root,
        '[assets.t]\npath = "data/t"\n[assets.t.quality]\nmax_rows = 2\nrange = { x = [0, 1] }\n',
    )
    write_table(repo.root / "data/t/a", {"x": [5, 0, 7, 9, 11, 13, 15, 17]})
    (a,) = check(repo).assets
    by_rule = {r.rule: r for r in a.results}
    assert not by_rule["max_rows"].passed and by_rule["max_rows"].measured == 8
    rng = by_rule["range"]
    assert rng.measured == 7 and len(rng.examples) == 5  # a few examples, never the table
    assert rng.examples[0] == {"file": "a.parquet", "row": 0, "value": 5}


def test_rows_are_numbered_across_batches() -> None:
    q = Quality(not_null=("x",), unique=(("x",),))
    tq = TableQuality(q, now=NOW)
    tq.start_file("f", ["x"])
    tq.feed(pa.record_batch({"x": [1, 2, 3]}), file="f", offset=0)
    tq.feed(pa.record_batch({"x": [4, None, 3]}), file="f", offset=3)
    results = {r.rule: r for r in tq.results()}
    assert results["not_null"].examples == ({"file": "f", "row": 4, "value": None},)
    assert results["unique"].measured == 1 and results["unique"].examples[0]["value"] == 3


def test_missing_column_fails_with_a_clear_message(repo: Repo) -> None:
    write_policy(
        repo.root, '[assets.t]\npath = "data/t"\n[assets.t.quality]\nnot_null = ["nope"]\n'
    )
    write_table(repo.root / "data/t/a", {"x": [1]})
    (a,) = check(repo).assets
    (r,) = a.results
    assert not r.passed and "missing from a.parquet" in r.found


def test_corrupt_parquet_is_a_failed_rule_not_a_traceback(repo: Repo) -> None:
    write_policy(repo.root, '[assets.t]\npath = "data/t"\n[assets.t.quality]\nmin_rows = 1\n')
    (repo.root / "data/t").mkdir(parents=True)
    (repo.root / "data/t/bad.parquet").write_bytes(b"PAR1 this is not parquet at all")
    (a,) = check(repo).assets
    readable = [r for r in a.results if r.rule == "readable"]
    assert readable and not readable[0].passed
    assert readable[0].file == "bad.parquet" and "cannot read parquet file" in readable[0].found


def test_any_asset_rules() -> None:
    files = [("a.parquet", 10), ("b/c.csv", 5000), ("notes.txt", 3)]
    q = Quality(
        max_file_size=4096,
        include=("*.parquet", "*.csv"),
        exclude=("*.txt",),
        required_files=("a.parquet", "_SUCCESS"),
    )
    got = {(r.rule, r.file): r for r in file_rules(q, files)}
    assert not got["max_file_size", None].passed
    assert got["max_file_size", None].examples == ({"file": "b/c.csv", "size": 5000},)
    assert not got["include", None].passed and got["include", None].examples == (
        {"file": "notes.txt"},
    )
    assert not got["exclude", None].passed
    assert got["required_files", "a.parquet"].passed
    assert not got["required_files", "_SUCCESS"].passed
    ok = Quality(
        max_file_size=5000,
        include=("*.parquet", "b/*", "notes.*"),
        exclude=("*.tmp",),
        required_files=("b/*.csv",),
    )
    assert all(r.passed for r in file_rules(ok, files))
