"""The process exits cleanly: no abort at interpreter shutdown, whatever pyarrow was doing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dvlin import Repo


@pytest.mark.slow
def test_no_op_commit_of_a_parquet_folder_never_aborts(tmp_path: Path) -> None:
    """Reading the parent's manifest must leave no Arrow worker holding Python memory at exit.

    Before the fix about one run in eight died with SIGABRT (exit 134) after printing
    "nothing to commit".
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = Repo.init(tmp_path / "repo")
    repo.close()
    (repo.root / "p").mkdir()
    table = pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]})
    pq.write_table(table, repo.root / "p" / "x.parquet")
    env = {**os.environ, "DVLIN_AUTHOR": "Test Author <test@example.org>"}

    def commit() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dvlin", "commit", "p"],
            cwd=repo.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    assert commit().returncode == 0
    failures = []
    for _ in range(100):
        ran = commit()
        if ran.returncode != 0 or "nothing to commit" not in ran.stdout:
            failures.append((ran.returncode, ran.stderr[-300:]))
    assert failures == []


def _main(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (which ends by calling dvlin's entry point) in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


_ATEXIT = """
import atexit, sys
atexit.register(lambda: print("atexit ran", flush=True))
sys.argv = ["dvlin", *sys.argv[1:]] or ["dvlin"]
from dvlin.cli import main
main()
"""


@pytest.mark.parametrize("slow", ["", "1"])
def test_the_early_exit_keeps_output_exit_code_and_atexit(tmp_path: Path, slow: str) -> None:
    """Ending without the interpreter's tear-down changes nothing one can see: all of stdout
    (more than a pipe holds), stderr, the exit code and the atexit functions; the same with
    the ordinary exit (DVLIN_SLOW_EXIT)."""
    big = _ATEXIT.replace("*sys.argv[1:]]", '"--help"]')
    ran = _main(big, tmp_path, DVLIN_SLOW_EXIT=slow)
    reference = subprocess.run(
        [sys.executable, "-m", "dvlin", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DVLIN_SLOW_EXIT": "1"},
    )
    assert ran.returncode == 0
    # the usage line names argv[0] ("-c" here): the rest is the same
    assert ran.stdout.splitlines()[1:] == [*reference.stdout.splitlines()[1:], "atexit ran"]

    missing = _main(_ATEXIT.replace("*sys.argv[1:]]", '"log", "nosuch"]'), tmp_path)
    assert missing.returncode == 3
    assert missing.stdout == "atexit ran\n"
    assert missing.stderr.startswith("error: ")

    usage = _main(_ATEXIT.replace("*sys.argv[1:]]", '"nosuchcommand"]'), tmp_path)
    assert (usage.returncode, usage.stdout) == (2, "atexit ran\n")
    assert "no such command 'nosuchcommand'" in usage.stderr


def test_a_running_thread_is_waited_for(tmp_path: Path) -> None:
    """A Python thread still running at the end takes the ordinary exit, which waits for it."""
    code = """
import sys, threading, time
def late():
    time.sleep(0.3)
    open("late.txt", "w").write("done")
threading.Thread(target=late).start()
sys.argv = ["dvlin", "--version"]
from dvlin.cli import main
main()
"""
    ran = _main(code, tmp_path)
    assert ran.returncode == 0
    assert ran.stdout.startswith("dvlin ")
    assert (tmp_path / "late.txt").read_text() == "done"


def test_a_profiler_still_writes_its_file(tmp_path: Path) -> None:
    """``python -m cProfile -o F -m dvlin ...`` writes F: a profiled run exits the ordinary way."""
    out = tmp_path / "p.prof"
    ran = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "dvlin", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0
    assert out.stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["status"], 1),  # the short path (no typer)
        (["status", "--json"], 1),  # typer
        (["log", "data"], 1),
        (["ls", "data@latest"], 0),  # a long listing: the rest is not wanted
        (["diff", "data@v1", "data@latest"], 0),
    ],
)
def test_a_reader_that_goes_away_stops_the_command_quietly(
    tmp_path: Path, args: list[str], code: int
) -> None:
    """``dvlin status | head -0``: no message, no traceback, the exit code the README gives."""
    root = tmp_path / "repo"
    Repo.init(root).close()
    env = {**os.environ, "DVLIN_AUTHOR": "Test Author <test@example.org>"}
    (root / "data").mkdir()
    for i in range(300):
        (root / "data" / f"f{i:03d}.txt").write_text(f"file {i}\n")
    for message in ("v1", "v2"):
        (root / "data" / "f000.txt").write_text(message)
        subprocess.run(
            [sys.executable, "-m", "dvlin", "commit", "data", "-m", message],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
    (root / "data" / "f001.txt").write_text("changed")  # status has something to say
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte
    try:
        ran = subprocess.run(
            [sys.executable, "-m", "dvlin", *args],
            cwd=root,
            env=env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert (ran.returncode, ran.stderr) == (code, "")
