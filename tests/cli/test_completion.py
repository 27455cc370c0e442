"""Shell completion (typer's): commands, options, asset names and refs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from dvlin import Repo
from dvlin.cli import app
from tests.conftest import write_tree


def complete(line: str) -> list[str]:
    """What bash completion offers for ``line`` (the cursor at its end)."""
    words = line.split(" ")
    result = CliRunner().invoke(
        app,
        [],
        prog_name="dvlin",
        env={
            "_DVLIN_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
    )
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout.split()


@pytest.fixture
def assets(repo: Repo) -> Repo:
    write_tree(repo.root, {"data/events/a": "1"})
    repo.commit(["data/events"], name="events", tags=["first"])
    write_tree(repo.root, {"data/events/a": "2"})
    repo.commit(["data/events"], name="events", tags=["release"])
    write_tree(repo.root, {"data/extra/a": "1"})
    repo.commit(["data/extra"], name="extra")
    return repo


def test_commands_and_options(repo: Repo) -> None:
    assert {"checkout", "commit", "config"} <= set(complete("dvlin c"))
    assert "--lock" in complete("dvlin checkout --l")


def test_asset_names_and_refs(assets: Repo) -> None:
    assert complete("dvlin checkout e") == ["events", "extra"]
    assert complete("dvlin checkout ev") == ["events"]
    assert complete("dvlin checkout events@") == [
        "events@latest",
        "events@first",
        "events@release",
        "events@v2",
        "events@v1",
    ]
    assert complete("dvlin show events@r") == ["events@release"]
    assert complete("dvlin status ex") == ["extra"]
    assert complete("dvlin tag events@v") == ["events@v2", "events@v1"]
    assert complete("dvlin checkout nope@") == []


def test_outside_a_repo_nothing_is_offered(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert complete("dvlin checkout ev") == []


def test_install_completion_is_offered() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "dvlin", "--help"], capture_output=True, text=True, check=True
    )
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout


def test_completion_and_heavy_libraries_stay_out_of_the_start_up_path() -> None:
    """``dvlin --help`` loads the CLI modules only: completion's work and the core wait."""
    probe = (  # reported at exit: dvlin's main ends the process itself
        "import atexit, sys, runpy\n"
        "sys.argv = ['dvlin', '--help']\n"
        "heavy = ('dvlin.ops', 'dvlin.repo', 'dvlin.catalog', 'fsspec', 'pyarrow', 'networkx',\n"
        "         'sqlite3', 'rich', 'pandas', 'numpy')\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "             or any(m == h or m.startswith(h + '.') for h in heavy))))\n"
        "runpy.run_module('dvlin', run_name='__main__')\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert r.stdout.strip().splitlines()[-1] == "[]"
