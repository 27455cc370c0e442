"""``dvlin run`` and ``dvlin link``: what is recorded, failures, errors, cycles."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from dvlin.errors import ExitCode
from tests.conftest import FEATURES, Cli, write_tree


def _rows(work: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(work / ".dvlin/catalog.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _assert_error(r, code: ExitCode, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: "), r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def test_run_records_inputs_run_and_outputs(work: Path, cli: Cli) -> None:
    write_tree(work, {"data/raw/e.csv": "a\n1\n", "make.py": FEATURES})
    cli("commit", "data/raw", "--name", "raw", ok=True)
    r = cli(
        "run", "--name", "build", "-i", "raw@v1", "-o", "out:feat", "-p", "window=7d", "--",
        sys.executable, "make.py", "data/raw/e.csv", "out",
        ok=True,
    )  # fmt: skip
    assert "built out" in r.stdout  # the command's output is streamed through
    assert "inputs: raw@v1" in r.stdout and "outputs: feat@v1" in r.stdout
    (run,) = _rows(work, "SELECT id, transform, status, exit_code, command, params, env FROM runs")
    assert run[1:4] == ("build", "succeeded", 0)
    assert json.loads(str(run[4]))[1:] == ["make.py", "data/raw/e.csv", "out"]
    assert json.loads(str(run[5])) == {"window": "7d"}
    env = json.loads(str(run[6]))
    assert {"python", "platform", "dvlin", "user", "host"} <= set(env)
    edges = _rows(work, "SELECT kind FROM edges ORDER BY kind")
    assert edges == [("input",), ("output",)]
    shown = json.loads(cli("show", "feat", "--json", ok=True).stdout)
    assert shown["meta"]["run"] == run[0]
    assert (work / "out/features.csv").read_text() == "a\n1\n" * 2


def test_run_json_keeps_stdout_for_the_document(work: Path, cli: Cli) -> None:
    r = cli("run", "--json", "--", sys.executable, "-c", "print('chatty')", ok=True)
    doc = json.loads(r.stdout)
    assert doc["run"]["status"] == "succeeded" and doc["outputs"] == []
    assert "chatty" in r.stderr


def test_failing_command_records_a_failed_run_and_no_outputs(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a.txt": "1"})
    cli("commit", "d", "--name", "d", ok=True)
    script = "import pathlib; pathlib.Path('out').mkdir(); pathlib.Path('out/x').write_text('half'); raise SystemExit(7)"
    r = cli("run", "-i", "d", "-o", "out:half", "--", sys.executable, "-c", script)
    assert r.exit_code == 7
    assert "failed" in r.stderr and "no outputs committed" in r.stderr
    assert _rows(work, "SELECT status, exit_code FROM runs") == [("failed", 7)]
    assert _rows(work, "SELECT name FROM assets ORDER BY name") == [("d",)]
    assert _rows(work, "SELECT kind FROM edges") == [("input",)]


def test_missing_output_fails_the_run(work: Path, cli: Cli) -> None:
    r = cli("run", "-o", "never:never", "--", sys.executable, "-c", "pass")
    _assert_error(r, ExitCode.NOT_FOUND, "never does not exist")
    ((status, error),) = _rows(work, "SELECT status, error FROM runs")
    assert status == "failed" and "output not committed" in str(error)
    assert _rows(work, "SELECT count(*) FROM versions") == [(0,)]


def test_shell_is_never_implied(work: Path, cli: Cli) -> None:
    # Without --shell, '>' and '$HOME' are plain arguments of echo, not a redirect.
    r = cli("run", "--", "echo", "hi", ">", "f.txt", "$HOME", ok=True)
    assert "hi > f.txt $HOME" in r.stdout
    assert not (work / "f.txt").exists()
    cli("run", "--shell", "-o", "f.txt:f", "--", "echo hi > f.txt", ok=True)
    assert (work / "f.txt").read_text() == "hi\n"
    assert _rows(work, "SELECT shell FROM runs ORDER BY started_at") == [(0,), (1,)]


def test_usage_errors(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a.txt": "1"})
    cli("commit", "d", "--name", "d", ok=True)
    _assert_error(cli("run"), ExitCode.USAGE, "no command to run")
    _assert_error(cli("run", "-o", "x:", "--", "true"), ExitCode.USAGE, "bad output 'x:'")
    _assert_error(cli("run", "-o", ":x", "--", "true"), ExitCode.USAGE, "bad output ':x'")
    _assert_error(cli("run", "-o", "x:a@b", "--", "true"), ExitCode.USAGE, "invalid asset name")
    _assert_error(cli("run", "-o", "a:s", "-o", "b:s", "--", "true"), ExitCode.USAGE, "two outputs")
    _assert_error(cli("run", "-i", "nope@v1", "--", "true"), ExitCode.NOT_FOUND, "unknown asset")
    _assert_error(cli("run", "-i", "d@v9", "--", "true"), ExitCode.NOT_FOUND, "no version 'v9'")
    _assert_error(cli("run", "-p", "novalue", "--", "true"), ExitCode.USAGE, "KEY=VALUE")
    r = cli("run", "--", "no-such-program-xyz")
    assert r.exit_code == 127 and "command not found" in r.stderr
    assert _rows(work, "SELECT status FROM runs") == [("failed",)]  # only the one that ran


def test_dirty_input_path_is_refused_or_committed(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a.txt": "1"})
    cli("commit", "d", "--name", "d", ok=True)
    (work / "d/a.txt").write_text("2")
    _assert_error(cli("run", "-i", "d", "--", "true"), ExitCode.CONFLICT, "uncommitted changes")
    r = json.loads(cli("run", "-i", "d", "--commit-inputs", "--json", "--", "true", ok=True).stdout)
    assert r["inputs"][0]["label"] == "d@v2"
    _assert_error(cli("run", "-i", "untracked.txt", "--", "true"), ExitCode.NOT_FOUND)
    (work / "untracked.txt").write_text("u")
    _assert_error(
        cli("run", "-i", "untracked.txt", "--", "true"), ExitCode.NOT_FOUND, "not a tracked"
    )


def test_link_records_derived_from_and_runs_and_refuses_cycles(work: Path, cli: Cli) -> None:
    write_tree(work, {"a/x": "1", "b/x": "2", "c/x": "3"})
    for n in "abc":
        cli("commit", n, "--name", n, ok=True)
    cli("link", "--from", "a", "--to", "b", ok=True)
    r = json.loads(
        cli(
            "link", "--from", "b", "--to", "c", "-t", "spark-job", "-p", "k=v", "--json", ok=True
        ).stdout
    )
    assert r["run"]["transform"] == "spark-job" and r["run"]["kind"] == "link"
    assert [e["kind"] for e in r["edges"]] == ["input", "output"]
    before = _rows(work, "SELECT * FROM edges ORDER BY src, dst")
    _assert_error(cli("link", "--from", "c", "--to", "a"), ExitCode.CONFLICT, "already upstream")
    _assert_error(cli("link", "--from", "a", "--to", "a"), ExitCode.CONFLICT, "same version")
    _assert_error(cli("link", "--from", "zz", "--to", "a"), ExitCode.NOT_FOUND, "unknown asset")
    assert _rows(work, "SELECT * FROM edges ORDER BY src, dst") == before


def test_unchanged_output_that_is_an_input_makes_no_cycle(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a.txt": "1"})
    cli("commit", "d", "--name", "d", ok=True)
    r = json.loads(cli("run", "-i", "d", "-o", "d:d", "--json", "--", "true", ok=True).stdout)
    assert r["outputs"] == [{"label": "d@v1", "id": r["inputs"][0]["id"], "created": False}]
    assert _rows(work, "SELECT kind FROM edges") == [("input",)]
