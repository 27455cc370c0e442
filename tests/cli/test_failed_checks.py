"""A failed check exits from one place: its report, then one `error:` line, the class's code."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import dvlin.cli
from dvlin.errors import ExitCode
from tests.conftest import Cli, write_tree


@pytest.fixture
def work(work: Path, cli: Cli) -> Path:
    """The shared initialised repo (conftest), with this module's starting state."""
    root = work
    write_tree(root, {"d/a.txt": "a\n"})
    cli("commit", "d", "-m", "first", ok=True)
    return root


def _error_line(ran) -> str:  # type: ignore[no-untyped-def]
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, ran.stderr
    assert "Traceback" not in ran.output
    return errors[0]


def test_status_exit_code_names_the_modified_asset(work: Path, cli: Cli) -> None:
    (work / "d" / "a.txt").write_text("changed\n")
    ran = cli("status", "--exit-code")
    assert ran.exit_code == ExitCode.CHECK_FAILED
    assert "d: modified" in ran.stdout
    assert _error_line(ran) == "error: d is modified"


def test_status_exit_code_json_is_one_document(work: Path, cli: Cli) -> None:
    (work / "d" / "a.txt").write_text("changed\n")
    ran = cli("status", "--exit-code", "--json")
    assert ran.exit_code == ExitCode.CHECK_FAILED
    assert json.loads(ran.stdout)["assets"][0]["asset"] == "d"  # one JSON document, parseable
    _error_line(ran)


def test_lock_check_reports_then_fails_with_a_hint(work: Path, cli: Cli) -> None:
    (work / "dvlin.lock").unlink()
    ran = cli("lock", "--check")
    assert ran.exit_code == ExitCode.CHECK_FAILED
    assert "dvlin.lock is missing" in ran.stdout
    assert _error_line(ran) == "error: dvlin.lock is missing"
    assert "hint: run `dvlin lock`" in ran.stderr


def test_check_failure_is_one_error_line(work: Path, cli: Cli) -> None:
    (work / "dvlin.toml").write_text(
        '[assets.d]\npath = "d"\n[assets.d.quality]\nrequired_files = ["_SUCCESS"]\n'
    )
    ran = cli("check")
    assert ran.exit_code == ExitCode.CHECK_FAILED
    assert _error_line(ran) == "error: contract failed for d"
    ran = cli("check", "--json")
    assert json.loads(ran.stdout)["passed"] is False
    _error_line(ran)


def test_audit_verify_broken_chain(work: Path, cli: Cli) -> None:
    import sqlite3

    conn = sqlite3.connect(work / ".dvlin" / "catalog.db")
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
    conn.commit()
    conn.close()
    ran = cli("audit", "verify")
    assert ran.exit_code == ExitCode.CHECK_FAILED
    assert _error_line(ran).startswith("error: the audit chain is broken: ")
    ran = cli("audit", "verify", "--json")
    assert json.loads(ran.stdout)["ok"] is False


def test_a_failed_run_exits_with_the_commands_code(work: Path, cli: Cli) -> None:
    ran = cli("run", "--", "sh", "-c", "exit 7")
    assert ran.exit_code == 7
    assert _error_line(ran).startswith("error: run ")


def test_no_cli_module_chooses_an_exit_code_or_prints_an_error_line() -> None:
    """typer.Exit(<code>) and hand-written `error:` lines belong to the one translator."""
    found = []
    for path in sorted(Path(dvlin.cli.__file__).parent.glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "Exit"
                and (node.args or node.keywords)
            ):
                found.append(f"{path.name}:{node.lineno} typer.Exit(code)")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value.startswith("error: ") or node.value == "error: ":
                    found.append(f"{path.name}:{node.lineno} prints its own error line")
    assert found == []
