"""Options and helpers shared by the command modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dvlin.render.output import Output

if TYPE_CHECKING:
    from dvlin.repo import Repo

JSON = typer.Option(False, "--json", help="Write a JSON document to stdout (stable shape).")
QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")


def output(json: bool = False, quiet: bool = False) -> Output:
    """The output environment for a command."""
    return Output(json=json, quiet=quiet)


def open_repo() -> Repo:
    """The repo at or above the working folder."""
    from dvlin.repo import Repo

    return Repo.open(".")
