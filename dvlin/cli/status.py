"""``dvlin status``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, output
from dvlin.cli.complete import complete_asset
from dvlin.cli.short import run_status


@app.command()
def status(
    names: list[str] = typer.Argument(
        None, help="Assets to check (default: all).", autocompletion=complete_asset
    ),
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 1 while an asset is modified (for hooks and CI)."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Show which assets are clean and which have added, changed or removed paths."""
    run_status(output(json, quiet), names or (), exit_code=exit_code)
