"""Contracts on commit and `dvlin check` through the CLI: exit codes, tables, nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dvlin.errors import ExitCode
from tests.conftest import Cli
from tests.policy.conftest import write_policy, write_table

POLICY = """
[assets.events]
path = "data/events"
[assets.events.quality]
min_rows = 3
unique = ["event_id"]
range = { amount = [0, 100] }
"""


@pytest.fixture
def work(work: Path, cli: Cli) -> Path:
    """The shared initialised repo (conftest), with this module's starting state."""
    root = work
    write_policy(root, POLICY)
    return root


def _state(root: Path) -> tuple[bytes, dict[str, bytes]]:
    """The catalog's full dump and every object's bytes: what a refused commit must not change."""
    import sqlite3

    conn = sqlite3.connect(root / ".dvlin/catalog.db")
    dump = "\n".join(conn.iterdump()).encode()
    conn.close()
    objects = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / ".dvlin/objects").rglob("*"))
        if p.is_file()
    }
    return dump, objects


def _good(root: Path) -> None:
    write_table(root / "data/events/part", {"event_id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]})


def _bad(root: Path) -> None:
    write_table(
        root / "data/events/part", {"event_id": [1, 2, 2, 4], "amount": [1.0, 2.0, 500.0, 3.0]}
    )


def test_good_data_commits_and_results_are_shown(work: Path, cli: Cli) -> None:
    _good(work)
    cli("commit", "data/events", "--name", "events", ok=True)
    shown = json.loads(cli("show", "events", "--json", ok=True).stdout)
    assert [c["rule"] for c in shown["checks"]] == ["min_rows", "unique", "range"]
    assert all(c["passed"] for c in shown["checks"]) and shown["override"] is None
    assert "3 passed, 0 failed" in cli("show", "events", ok=True).stdout


def test_a_failing_commit_changes_nothing(work: Path, cli: Cli) -> None:
    _good(work)
    cli("commit", "data/events", "--name", "events", ok=True)
    _bad(work)
    before = _state(work)
    r = cli("commit", "data/events", "--name", "events")
    assert r.exit_code == ExitCode.CHECK_FAILED, r.output
    assert "2 rules failed for events — nothing committed" in r.stderr
    assert "unique" in r.stdout and "1 duplicate values (e.g. 2)" in r.stdout
    assert "range" in r.stdout and "min_rows" not in r.stdout  # only the failures
    assert _state(work) == before
    doc = json.loads(cli("commit", "data/events", "--name", "events", "--json").stdout)
    assert doc["exit_code"] == 1 and doc["kind"] == "PolicyViolation"
    assert {x["rule"] for x in doc["results"] if not x["passed"]} == {"unique", "range"}
    assert _state(work) == before


def test_first_commit_refused_leaves_no_asset(work: Path, cli: Cli) -> None:
    _bad(work)
    before = _state(work)
    assert cli("commit", "data/events", "--name", "events").exit_code == ExitCode.CHECK_FAILED
    assert _state(work) == before
    assert cli("ls", "--json", ok=True).stdout.strip() == "[]"


def test_force_needs_a_reason_and_is_recorded(work: Path, cli: Cli) -> None:
    _bad(work)
    before = _state(work)
    for args in (("--force",), ("--force", "--reason", "  "), ("--reason", "why")):
        r = cli("commit", "data/events", "--name", "events", *args)
        assert r.exit_code == ExitCode.USAGE, r.output
        assert "--reason" in r.stderr
    assert _state(work) == before
    r = cli(
        "commit",
        "data/events",
        "--name",
        "events",
        "--force",
        "--reason",
        "backfill, DATA-231",
        ok=True,
    )
    assert "2 failed rules overridden: backfill, DATA-231" in r.stdout
    shown = json.loads(cli("show", "events", "--json", ok=True).stdout)
    assert shown["override"]["reason"] == "backfill, DATA-231"
    assert shown["override"]["failed"] == 2 and shown["override"]["author"].startswith(
        "Test Author"
    )
    failed = [c for c in shown["checks"] if not c["passed"]]
    assert {c["rule"] for c in failed} == {"unique", "range"}
    assert failed[0]["examples"]
    text = cli("show", "events", ok=True).stdout
    assert "1 passed, 2 failed" in text and "backfill, DATA-231" in text


def test_assets_without_policy_commit_as_before(work: Path, cli: Cli) -> None:
    write_table(work / "other/part", {"event_id": [1, 1]})
    cli("commit", "other", ok=True)
    shown = json.loads(cli("show", "other", "--json", ok=True).stdout)
    assert shown["checks"] == [] and shown["override"] is None


def test_check_exit_codes_and_writes_nothing(work: Path, cli: Cli) -> None:
    _good(work)
    before = _state(work)
    mtime = os.stat(work / ".dvlin/catalog.db").st_mtime_ns
    r = cli("check", ok=True)
    assert "✓ events (data/events): 3 rules passed" in r.stdout
    assert "min_rows" in cli("check", "--all", ok=True).stdout
    doc = json.loads(cli("check", "events", "--json", ok=True).stdout)
    assert doc["passed"] is True and doc["checked"] == 1
    assert doc["assets"][0]["results"][0].keys() == {
        "rule",
        "passed",
        "column",
        "file",
        "expected",
        "found",
        "measured",
        "examples",
    }
    _bad(work)
    r = cli("check")
    assert r.exit_code == ExitCode.CHECK_FAILED and "contract failed for events" in r.stderr
    assert "✗ events (data/events): 2 of 3 rules failed" in r.stdout
    doc = json.loads(cli("check", "data/events", "--json").stdout)
    assert doc["passed"] is False and doc["assets"][0]["failed"] == 2
    assert _state(work) == before
    assert os.stat(work / ".dvlin/catalog.db").st_mtime_ns == mtime
    r = cli("check", "nothing-here")
    assert r.exit_code == ExitCode.NOT_FOUND and "no asset with a policy" in r.stderr


def test_check_with_no_policy_file(work: Path, cli: Cli) -> None:
    (work / "dvlin.toml").unlink()
    assert "no policies to check" in cli("check", ok=True).stdout
    assert json.loads(cli("check", "--json", ok=True).stdout)["checked"] == 0


def test_check_reports_a_missing_path(work: Path, cli: Cli) -> None:
    r = cli("check", "--json")
    assert r.exit_code == ExitCode.CHECK_FAILED
    (res,) = json.loads(r.stdout)["assets"][0]["results"]
    assert res["rule"] == "path" and res["found"] == "missing"
