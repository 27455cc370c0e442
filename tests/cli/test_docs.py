"""Meta-tests: every command and subcommand has help text and a section in the CLI reference."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from dvlin.cli import app
from tests.conftest import Cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _walk(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under ``group``, groups included, as (words after ``dvlin``, command).

    Duck-typed: typer ships its own copy of click, so isinstance against click's classes fails.
    """
    found = []
    for name, command in sorted(group.commands.items()):
        found.append(((*path, name), command))
        if hasattr(command, "commands"):
            found += _walk(command, (*path, name))
    return found


ALL = _walk(get_command(app))
COMMANDS = {" ".join(words): command for words, command in ALL}
LEAVES = sorted(name for name, c in COMMANDS.items() if not hasattr(c, "commands"))
GROUPS = sorted(name for name, c in COMMANDS.items() if hasattr(c, "commands"))


def _sections() -> dict[str, str]:
    """Each ``dvlin ...`` command named in a heading of the reference → the text under it."""
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.M)
    sections: dict[str, str] = {}
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        for usage in re.findall(r"`dvlin ([^`]*)`", heading):
            sections[usage] = sections.get(usage, "") + heading + body
    return sections


def _section(name: str) -> str | None:
    """The reference's text about command ``name`` (its heading names it), or None."""
    found = [body for usage, body in _sections().items() if (usage + " ").startswith(name + " ")]
    return "".join(found) if found else None


def test_the_command_list_is_what_the_issue_names() -> None:
    assert {"init", "commit", "status", "checkout", "log", "show", "ls", "tag", "tags"} <= set(
        COMMANDS
    )


def test_the_groups_and_their_subcommands_are_walked() -> None:
    assert {"audit", "model", "policy"} <= set(GROUPS)
    assert {"audit verify", "audit head", "model register", "policy show"} <= set(LEAVES)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(cli: Cli, name: str) -> None:
    r = cli(*name.split(), "--help", ok=True)
    assert "Usage:" in r.stdout
    command = COMMANDS[name]
    assert command.help and len(command.help.strip()) > 15, name


@pytest.mark.parametrize("name", LEAVES)
def test_every_option_and_argument_has_help(name: str) -> None:
    missing = [
        p.name
        for p in COMMANDS[name].params
        if not (getattr(p, "help", None) or "").strip() and not getattr(p, "hidden", False)
    ]
    assert missing == [], f"dvlin {name}: no help for {missing}"


@pytest.mark.parametrize("name", LEAVES)
def test_every_command_is_in_the_cli_reference(name: str) -> None:
    assert _section(name) is not None, f"docs/cli.md has no heading for `dvlin {name}`"


@pytest.mark.parametrize("name", LEAVES)
def test_every_long_option_is_in_its_commands_section(name: str) -> None:
    section = _section(name) or ""
    options = [
        o
        for p in COMMANDS[name].params
        if p.param_type_name == "option" and not p.hidden
        for o in p.opts
        if o.startswith("--") and o not in ("--json", "--quiet", "--help")
    ]
    missing = [o for o in options if not re.search(re.escape(o) + r"\b", section)]
    assert missing == [], f"dvlin {name}: {missing} not in its section of docs/cli.md"


def test_readme_opens_with_the_two_setup_commands() -> None:
    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh", 1)[1].split("```", 1)[0]
    lines = [line for line in block.strip().splitlines() if line.strip()]
    assert len(lines) == 2
    assert "examples/quickstart.sh" in lines[0]
    assert "python -m pytest" in lines[1]
    ci = (DOCS.parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci
