"""The typer application: the root group, its error translation hooks and every command.

Imported on first use of ``dvlin.cli.app`` (see :mod:`dvlin.cli`); the command modules register
themselves on :data:`app` when imported at the end of this module.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer._click import exceptions as _click_exceptions  # typer >= 0.26: its own click
from typer.core import TyperGroup

from dvlin.cli import (
    _command_word,
    debugging,
    fail,
    from_click,
    interrupted,
    is_utf8,
    leave,
    not_utf8,
)
from dvlin.errors import DvlinError


class DvlinGroup(TyperGroup):
    """Turns every DvlinError into one red line, a hint and its exit code (the one place).

    click's own usage errors (unknown command or option, missing argument, bad value) come
    through here too, so they look like every other error and honour ``--json``.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse the root options; a usage error here is reported like any other."""
        wants_json = "--json" in args
        for arg in args:
            if not is_utf8(arg):
                fail(not_utf8(arg), json=wants_json)
        try:
            return super().parse_args(ctx, args)
        except _ClickUsageError as exc:
            if _debug(ctx) or isinstance(exc, _NoArgsIsHelp):
                raise
            fail(from_click(exc), json=wants_json)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; translate user errors, keep tracebacks for bugs."""
        wants_json = "--json" in ctx.args  # click clears ctx.args before the subcommand runs
        try:
            return super().invoke(ctx)
        except DvlinError as exc:
            if _debug(ctx):
                raise
            fail(exc, json=wants_json)
        except _ClickUsageError as exc:
            if _debug(ctx) or isinstance(exc, _NoArgsIsHelp):
                raise
            fail(from_click(exc), json=wants_json)
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            interrupted()
        except EOFError as exc:
            # click would turn it into a bare "Aborted!" and exit 1, hiding a bug: show it.
            raise RuntimeError(f"unexpected end of data: {exc}") from exc


_ClickUsageError: Any = _click_exceptions.UsageError
# click >= 8.2 shows the help of a bare group through a usage error: keep that as it is.
_NoArgsIsHelp: Any = _click_exceptions.NoArgsIsHelpError


def _debug(ctx: Any) -> bool:
    return debugging(ctx.obj)


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
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from dvlin.version import __version__

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


from dvlin.cli import asset as _asset  # noqa: E402,F401
from dvlin.cli import audit as _audit  # noqa: E402,F401
from dvlin.cli import check as _check  # noqa: E402,F401
from dvlin.cli import checkout as _checkout  # noqa: E402,F401
from dvlin.cli import commit as _commit  # noqa: E402,F401
from dvlin.cli import config as _config  # noqa: E402,F401
from dvlin.cli import diff as _diff  # noqa: E402,F401
from dvlin.cli import du as _du  # noqa: E402,F401
from dvlin.cli import fsck as _fsck  # noqa: E402,F401
from dvlin.cli import gc as _gc  # noqa: E402,F401
from dvlin.cli import history as _history  # noqa: E402,F401
from dvlin.cli import init as _init  # noqa: E402,F401
from dvlin.cli import lineage as _lineage  # noqa: E402,F401
from dvlin.cli import lock as _lock  # noqa: E402,F401
from dvlin.cli import model as _model  # noqa: E402,F401
from dvlin.cli import policy as _policy  # noqa: E402,F401
from dvlin.cli import remote as _remote  # noqa: E402,F401
from dvlin.cli import retention as _retention  # noqa: E402,F401
from dvlin.cli import run as _run  # noqa: E402,F401
from dvlin.cli import stats as _stats  # noqa: E402,F401
from dvlin.cli import status as _status  # noqa: E402,F401
from dvlin.cli import tags as _tags  # noqa: E402,F401


def run() -> None:
    """Run the command ``sys.argv`` names through typer (:func:`dvlin.cli.main` sets up)."""
    # typer builds a click command for every registered command on each start (~15 ms for
    # 35 of them); a process runs one, so only that one is built when the name is exact.
    saved = app.registered_commands, app.registered_groups
    try:
        _only_invoked(sys.argv[1:])
        app()
    except SystemExit as done:
        leave(done)
        raise
    finally:
        app.registered_commands, app.registered_groups = saved


def _only_invoked(args: list[str]) -> None:
    """Keep only the command ``args`` invoke, when that is certain.

    Root help, ``--version``, shell completion and unknown names (click suggests the closest
    one) keep every command.
    """
    if any(k.endswith("_COMPLETE") for k in os.environ):
        return
    word = _command_word(args)
    if word is None or any(a in ("-h", "--help", "--version") for a in args[: args.index(word)]):
        return
    from typer.main import get_command_name

    commands = [
        c
        for c in app.registered_commands
        if (c.name or get_command_name(c.callback.__name__ if c.callback else "")) == word
    ]
    groups = [g for g in app.registered_groups if g.name == word]
    if len(commands) + len(groups) == 1:
        app.registered_commands, app.registered_groups = commands, groups
