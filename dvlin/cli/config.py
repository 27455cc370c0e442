"""``dvlin config get``, ``dvlin config set`` and ``dvlin config list``."""

from __future__ import annotations

import json as _json
from typing import Any

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output

config_app = typer.Typer(
    help="Read and edit .dvlin/config.toml (validated; every change is audited).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(config_app, name="config")


def _text(value: Any) -> str:
    return _json.dumps(value) if isinstance(value, bool) else str(value)


@config_app.command("get")
def config_get(
    key: str = typer.Argument(..., help="A dotted key, e.g. storage.url."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Print one setting's value (its default when the file does not set it)."""
    from dvlin.ops.config import get_config

    out = output(json, quiet)
    with open_repo() as repo:
        found = get_config(repo, key)
    if out.json:
        out.emit_json(found.to_dict())
    else:
        out.line(_text(found.value))


@config_app.command("set")
def config_set(
    key: str = typer.Argument(..., help="A dotted key, e.g. storage.fsync."),
    value: str = typer.Argument(..., help="The new value (true/false for switches)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Change a setting: validated as every command loads it, and written to the audit log."""
    from dvlin.ops.config import set_config

    out = output(json, quiet)
    with open_repo() as repo:
        change = set_config(repo, key, value)
    if out.json:
        out.emit_json(change.to_dict())
    elif change.changed:
        out.line(f"{key}: {_text(change.old)} -> {_text(change.new)}")
    else:
        out.line(f"{key} is already {_text(change.new)}")


@config_app.command("list")
def config_list(json: bool = JSON, quiet: bool = QUIET) -> None:
    """Every setting with its value; defaults are marked."""
    from dvlin.ops.config import list_config

    out = output(json, quiet)
    with open_repo() as repo:
        rows = list_config(repo)
    if out.json:
        out.emit_json([r.to_dict() for r in rows])
        return
    for r in rows:
        out.line(f"{r.key} = {_text(r.value)}" + ("" if r.is_set else "  (default)"))
