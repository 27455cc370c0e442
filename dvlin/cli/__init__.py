"""The ``dvlin`` command line: typer commands over the core API, one module per group."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from dvlin.errors import DvlinError, ExitCode


class DvlinGroup(TyperGroup):
    """Turns every DvlinError into one red line, a hint and its exit code (the one place)."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; translate user errors, keep tracebacks for bugs."""
        wants_json = "--json" in ctx.args  # click clears ctx.args before the subcommand runs
        try:
            return super().invoke(ctx)
        except DvlinError as exc:
            if _debug(ctx):
                raise
            _report(exc, json=wants_json)
            sys.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            typer.echo("error: interrupted", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))


def _debug(ctx: Any) -> bool:
    return bool(os.environ.get("DVLIN_DEBUG")) or bool((ctx.obj or {}).get("debug"))


def _report(exc: DvlinError, *, json: bool) -> None:
    if json:
        import json as _json

        typer.echo(_json.dumps(exc.to_dict(), indent=2))
    typer.echo(typer.style("error: ", fg="red", bold=True) + exc.message, err=True)
    if exc.hint:
        typer.echo(typer.style("hint: ", fg="yellow") + exc.hint, err=True)


app = typer.Typer(
    cls=DvlinGroup,
    name="dvlin",
    help="Version datasets, features, embeddings and models; trace where every version came from.",
    no_args_is_help=True,
    # Plain click help and plain tracebacks: rich's help renderer costs 0.3 s of start-up,
    # and tracebacks must never print local variables (they can hold credentials).
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from dvlin import __version__

        typer.echo(f"dvlin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks (or set DVLIN_DEBUG=1)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Data versioning and lineage: git-like, content-addressed, on any fsspec store.

    Exit codes: 0 ok, 1 check failed, 2 usage, 3 not found, 4 integrity, 5 conflict,
    130 interrupted.
    """
    ctx.obj = {"debug": debug}


from dvlin.cli import audit as _audit  # noqa: E402,F401
from dvlin.cli import check as _check  # noqa: E402,F401
from dvlin.cli import checkout as _checkout  # noqa: E402,F401
from dvlin.cli import commit as _commit  # noqa: E402,F401
from dvlin.cli import fsck as _fsck  # noqa: E402,F401
from dvlin.cli import gc as _gc  # noqa: E402,F401
from dvlin.cli import history as _history  # noqa: E402,F401
from dvlin.cli import init as _init  # noqa: E402,F401
from dvlin.cli import lineage as _lineage  # noqa: E402,F401
from dvlin.cli import model as _model  # noqa: E402,F401
from dvlin.cli import policy as _policy  # noqa: E402,F401
from dvlin.cli import remote as _remote  # noqa: E402,F401
from dvlin.cli import retention as _retention  # noqa: E402,F401
from dvlin.cli import run as _run  # noqa: E402,F401
from dvlin.cli import status as _status  # noqa: E402,F401
from dvlin.cli import tags as _tags  # noqa: E402,F401


def main() -> None:
    """Console-script entry point."""
    app()
