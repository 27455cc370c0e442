"""Meta-tests: every command has help text and a section in the CLI reference."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command

from dvlin.cli import app
from tests.conftest import Cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


def test_the_command_list_is_what_the_issue_names() -> None:
    assert {"init", "commit", "status", "checkout", "log", "show", "ls", "tag", "tags"} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(cli: Cli, name: str) -> None:
    r = cli(name, "--help", ok=True)
    assert "Usage:" in r.stdout
    command = get_command(app).commands[name]  # type: ignore[attr-defined]
    assert command.help and len(command.help.strip()) > 15


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_cli_reference(name: str) -> None:
    assert f"## `dvlin {name}" in DOCS.read_text(encoding="utf-8")


def test_readme_opens_with_the_two_setup_commands() -> None:
    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh", 1)[1].split("```", 1)[0]
    lines = [line for line in block.strip().splitlines() if line.strip()]
    assert len(lines) == 2
    assert "examples/quickstart.sh" in lines[0]
    assert "python -m pytest" in lines[1]
    ci = (DOCS.parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci
