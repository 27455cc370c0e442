"""The command line: round trips, exit codes, one-line errors with hints, JSON shapes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dvlin.errors import ExitCode
from tests.conftest import Cli, snapshot, write_tree


def test_full_round_trip_in_process(work: Path, cli: Cli) -> None:
    write_tree(
        work,
        {
            "data/events/a.csv": "id\n1\n",
            "data/events/x/y.bin": os.urandom(500),
            "data/events/empty": {},
            "data/events/l": ("link", "a.csv"),
            "data/events/run": ("exec", b"#!/bin/sh\n"),
        },
    )
    v1 = snapshot(work / "data/events")
    r = cli("commit", "data/events", "--name", "events", "-m", "october dump", ok=True)
    assert r.stdout.startswith("→ events@v1")
    (work / "data/events/a.csv").write_text("id\n2\n")
    (work / "data/events/b.csv").write_text("id\n3\n")
    r = cli("status", ok=True)
    assert "events: modified (1 added, 1 changed, 0 removed)" in r.stdout
    cli("commit", "data/events", "--name", "events", "-m", "november", ok=True)
    assert "events: clean at events@v2" in cli("status", ok=True).stdout
    log = cli("log", "events", ok=True).stdout
    assert log.index("events@v2") < log.index("events@v1")
    assert "october dump" in log and "Test Author" in log
    shown = json.loads(cli("show", "events@v1", "--json", ok=True).stdout)
    assert (
        shown["number"] == 1 and shown["message"] == "october dump" and shown["kind"] == "dataset"
    )
    out = work.parent / "old_events"
    cli("checkout", "events@v1", "--to", str(out), ok=True)
    assert snapshot(out) == v1
    assert (
        "tagged events@v2 as events@release-2026-11"
        in cli("tag", "events@v2", "release-2026-11", ok=True).stdout
    )
    assert json.loads(cli("show", "events@release-2026-11", "--json").stdout)["number"] == 2
    assert json.loads(cli("show", "events@~1", "--json").stdout)["number"] == 1
    assert json.loads(cli("show", "events@latest", "--json").stdout)["number"] == 2
    assert json.loads(cli("show", shown["id"][:8], "--json").stdout)["number"] == 1
    assert cli("show", "events@~2").exit_code == ExitCode.NOT_FOUND
    ls = cli("ls", ok=True).stdout
    assert "events" in ls and "v2" in ls and "dataset" in ls
    files = json.loads(cli("ls", "events@v1", "--json", ok=True).stdout)
    assert {f["path"] for f in files} >= {"a.csv", "x/y.bin", "empty", "l", "run"}
    tags = json.loads(cli("tags", "--json", ok=True).stdout)
    assert tags[0]["tag"] == "release-2026-11"


def test_works_from_a_subfolder(work: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(work, {"data/a.txt": "a"})
    monkeypatch.chdir(work / "data")
    cli("commit", "a.txt", "--name", "a", ok=True)
    assert json.loads(cli("status", "--json", ok=True).stdout)["clean"] is True


def test_nothing_to_commit_exits_zero(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a": "1"})
    cli("commit", "d", ok=True)
    r = cli("commit", "d", ok=True)
    assert "nothing to commit" in r.stdout
    assert json.loads(cli("commit", "d", "--json").stdout)["created"] is False


def _assert_error(r, code: ExitCode, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("error: ")
    assert "hint: " in r.stderr
    for n in needles:
        assert n in r.stderr
    assert "Traceback" not in r.output


def test_not_a_repo(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _assert_error(cli("status"), ExitCode.NOT_FOUND, "not a dvlin repo")
    assert not (tmp_path / ".dvlin").exists()


def test_init_twice(work: Path, cli: Cli) -> None:
    _assert_error(cli("init"), ExitCode.CONFLICT, "already a dvlin repo")


def _catalog_bytes(work: Path) -> bytes:
    import sqlite3

    conn = sqlite3.connect(work / ".dvlin/catalog.db")
    dump = "\n".join(conn.iterdump())
    conn.close()
    return dump.encode()


def test_bad_inputs_change_nothing(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a": "1", "d/b": "2"})
    cli("commit", "d", "--name", "d", ok=True)
    cli("tag", "d", "t1", ok=True)
    (work / "d/a").write_text("local")
    before = _catalog_bytes(work)
    _assert_error(cli("commit", "nope"), ExitCode.NOT_FOUND, "nope does not exist")
    _assert_error(cli("checkout", "d@v9"), ExitCode.NOT_FOUND, "no version 'v9'", "v1")
    _assert_error(
        cli("checkout", "dd"), ExitCode.NOT_FOUND, "unknown asset 'dd'", "did you mean: d"
    )
    _assert_error(cli("show", "abcdef12"), ExitCode.NOT_FOUND, "abcdef12")
    _assert_error(cli("tag", "d", "t1"), ExitCode.CONFLICT, "tag d@t1 exists")
    _assert_error(cli("tag", "d", "v3"), ExitCode.USAGE, "invalid tag name")
    _assert_error(cli("commit", "d", "--kind", "table"), ExitCode.USAGE, "unknown kind")
    _assert_error(cli("commit", "d", "--meta", "novalue"), ExitCode.USAGE, "KEY=VALUE")
    _assert_error(cli("checkout", "d@v1"), ExitCode.CONFLICT, "uncommitted changes")
    _assert_error(cli("commit", "/etc/hostname"), ExitCode.USAGE, "outside the repo")
    _assert_error(cli("checkout", "d", "--link", "teleport"), ExitCode.USAGE, "unknown link mode")
    assert _catalog_bytes(work) == before
    assert (work / "d/a").read_text() == "local"


def test_ambiguous_id_prefix_lists_candidates(work: Path, cli: Cli) -> None:
    from dataclasses import replace

    from dvlin import Repo

    write_tree(work, {"d/a": "1"})
    cli("commit", "d", ok=True)
    with Repo.open(work) as repo:
        v1 = repo.resolve("d")
        with repo.catalog.transaction():
            for n, suffix in ((2, "1" * 26), (3, "2" * 26)):
                repo.catalog.insert_version(replace(v1, id="abcdef" + suffix, number=n))
    r = cli("show", "abcdef")
    _assert_error(r, ExitCode.NOT_FOUND, "ambiguous", "abcdef111111 (d@v2)", "abcdef222222 (d@v3)")
    assert json.loads(cli("show", "abcdef1", "--json", ok=True).stdout)["number"] == 2
    _assert_error(cli("show", "abcde"), ExitCode.NOT_FOUND, "unknown asset 'abcde'")


def test_corrupted_object_exits_4(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a": os.urandom(200_000)})
    r = json.loads(cli("commit", "d", "--json", ok=True).stdout)
    objects = work / ".dvlin/objects"
    victim = next(p for p in objects.rglob("*") if p.is_file() and p.stat().st_size == 200_000)
    victim.chmod(0o644)
    victim.write_bytes(b"x" * 200_000)
    res = cli("checkout", "d", "--to", str(work.parent / "o"))
    _assert_error(res, ExitCode.INTEGRITY, "corrupt", "used by d@v1")
    assert r["version"]["number"] == 1


def test_json_error_shape(work: Path, cli: Cli) -> None:
    r = cli("show", "missing", "--json")
    assert r.exit_code == ExitCode.NOT_FOUND
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 3 and doc["kind"] == "NotFoundError" and "missing" in doc["error"]


def test_quiet_prints_nothing(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a": "1"})
    assert cli("commit", "d", "-q", ok=True).stdout == ""


def test_debug_shows_the_traceback(work: Path, cli: Cli) -> None:
    from typer.testing import CliRunner

    from dvlin.cli import app

    result = CliRunner().invoke(app, ["--debug", "show", "nothing"])
    assert result.exception is not None and not isinstance(result.exception, SystemExit)


def test_installed_entry_point_round_trip(tmp_path: Path) -> None:
    exe = shutil.which("dvlin")
    cmd = [exe] if exe else [sys.executable, "-m", "dvlin"]
    root = tmp_path / "r"
    write_tree(root, {"data/x.txt": "hello", "data/y/z.bin": os.urandom(1000)})
    env = {**os.environ, "DVLIN_AUTHOR": "Sub Process"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cmd, *args], cwd=root, text=True, capture_output=True, env=env, timeout=120
        )

    assert run("init").returncode == 0
    assert run("commit", "data", "--name", "data").returncode == 0
    expected = snapshot(root / "data")
    (root / "data/x.txt").write_text("changed")
    assert run("commit", "data", "--name", "data").returncode == 0
    res = run("checkout", "data@v1", "--to", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert snapshot(tmp_path / "out") == expected
    missing = run("checkout", "data@v7")
    assert missing.returncode == 3 and "Traceback" not in missing.stderr
    help_ = run("--help")
    assert help_.returncode == 0 and "commit" in help_.stdout


def test_checkout_dry_run_and_force_report(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a.txt": "v1"})
    cli("commit", "d", ok=True)
    (work / "d/a.txt").write_text("v2")
    cli("commit", "d", ok=True)
    (work / "d/a.txt").write_text("mine")
    preview = cli("checkout", "d@v1", "--dry-run", ok=True).stdout
    assert "dry run" in preview and "! a.txt" in preview
    assert (work / "d/a.txt").read_text() == "mine"
    plan = json.loads(cli("checkout", "d@v1", "-n", "--json", ok=True).stdout)
    assert (
        plan["dry_run"] is True and plan["discarded"] == ["a.txt"] and plan["writes"] == ["a.txt"]
    )
    done = cli("checkout", "d@v1", "--force", ok=True).stdout
    assert "discarded uncommitted changes in 1 path: a.txt" in done
    assert (work / "d/a.txt").read_text() == "v1"


def test_status_exit_code_flag(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a": "1"})
    cli("commit", "d", ok=True)
    assert cli("status", "--exit-code").exit_code == 0
    (work / "d/a").write_text("2")
    r = cli("status", "--exit-code")
    assert r.exit_code == 1 and "d: modified (0 added, 1 changed, 0 removed)" in r.stdout
    assert cli("status").exit_code == 0


def test_user_text_is_never_rich_markup(work: Path, cli: Cli) -> None:
    write_tree(work, {"d/a": "1"})
    cli("commit", "d", "-m", "fix [bold]x[/bold] and [1, 2]", ok=True)
    assert "fix [bold]x[/bold] and [1, 2]" in cli("log", ok=True).stdout
