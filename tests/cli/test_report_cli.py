"""``dvlin audit report``: formats, -o, filters, errors, and exit 1 on a tampered chain."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from dvlin import Repo
from dvlin.audit.report import report_schema
from tests.audit.reportdata import HOSTILE, build
from tests.conftest import Cli


@pytest.fixture
def built(repo: Repo) -> Repo:
    return build(repo)


def test_json_on_stdout_validates(built: Repo, cli: Cli) -> None:
    r = cli("audit", "report", "--format", "json", ok=True)
    doc = json.loads(r.stdout)
    jsonschema.validate(doc, report_schema())
    assert doc["chain"]["ok"] is True and r.stderr == ""


def test_html_to_a_file(built: Repo, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "audit.html"
    r = cli("audit", "report", "-o", str(out), ok=True)
    assert r.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<script" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".audit")] == []


def test_markdown_with_filters(built: Repo, cli: Cli) -> None:
    r = cli("audit", "report", "--format", "md", "--asset", "raw", "--since", "2000-01-01", ok=True)
    assert r.stdout.startswith("# dvlin audit report")
    assert "raw@v1" in r.stdout and "old@v1" not in r.stdout and HOSTILE not in r.stdout


def test_a_tampered_chain_writes_the_report_and_exits_1(
    built: Repo, cli: Cli, tmp_path: Path
) -> None:
    conn = sqlite3.connect(built.dvlin_dir / "catalog.db")
    conn.execute("UPDATE audit SET reason = 'nothing to see' WHERE action = 'contract-override'")
    conn.commit()
    conn.close()
    out = tmp_path / "audit.html"
    r = cli("audit", "report", "-o", str(out))
    assert r.exit_code == 1 and "audit chain verification failed" in r.stderr
    assert "AUDIT CHAIN VERIFICATION FAILED" in out.read_text(encoding="utf-8")
    j = cli("audit", "report", "--format", "json")
    assert j.exit_code == 1 and json.loads(j.stdout)["chain"]["ok"] is False


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--format", "pdf"], 2, "error: unknown format 'pdf'"),
        (["--asset", "nope"], 3, "error: unknown asset 'nope'"),
        (["--since", "yesterday"], 2, "error: --since 'yesterday' is not a date or time"),
    ],
)
def test_bad_arguments(built: Repo, cli: Cli, args: list[str], code: int, message: str) -> None:
    r = cli("audit", "report", *args)
    assert r.exit_code == code and message in r.stderr, r.output
    assert r.stdout == ""


def test_output_into_a_folder_is_a_usage_error(built: Repo, cli: Cli, tmp_path: Path) -> None:
    r = cli("audit", "report", "-o", str(tmp_path))
    assert r.exit_code == 2 and "is a folder" in r.stderr


def test_output_into_a_missing_folder_names_it(built: Repo, cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "a.html"
    r = cli("audit", "report", "-o", str(target))
    assert r.exit_code == 2 and str(target) in r.stderr
