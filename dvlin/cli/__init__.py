"""The ``dvlin`` command line: typer commands over the core API, one module per group."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from dvlin.errors import DvlinError, ExitCode


class DvlinGroup(TyperGroup):
    """Turns every DvlinError into one red line, a hint and its exit code (the one place).

    click's own usage errors (unknown command or option, missing argument, bad value) come
    through here too, so they look like every other error and honour ``--json``.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse the root options; a usage error here is reported like any other."""
        wants_json = "--json" in args
        for arg in args:
            if not _is_utf8(arg):
                _fail(_not_utf8(arg), json=wants_json)
        try:
            return super().parse_args(ctx, args)
        except _ClickUsageError as exc:
            if _debug(ctx) or isinstance(exc, _NoArgsIsHelp):
                raise
            _fail(_from_click(exc), json=wants_json)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; translate user errors, keep tracebacks for bugs."""
        wants_json = "--json" in ctx.args  # click clears ctx.args before the subcommand runs
        try:
            return super().invoke(ctx)
        except DvlinError as exc:
            if _debug(ctx):
                raise
            _fail(exc, json=wants_json)
        except _ClickUsageError as exc:
            if _debug(ctx) or isinstance(exc, _NoArgsIsHelp):
                raise
            _fail(_from_click(exc), json=wants_json)
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            typer.echo("error: interrupted", err=True)
            sys.exit(int(ExitCode.INTERRUPTED))
        except EOFError as exc:
            # click would turn it into a bare "Aborted!" and exit 1, hiding a bug: show it.
            raise RuntimeError(f"unexpected end of data: {exc}") from exc


try:  # typer >= 0.24 carries its own copy of click; its exceptions are not click's
    from typer._click import exceptions as _click_exceptions
except ImportError:  # pragma: no cover - older typer on the real click
    from click import exceptions as _click_exceptions  # type: ignore[no-redef]

_ClickUsageError: Any = _click_exceptions.UsageError
# click >= 8.2 shows the help of a bare group through a usage error: keep that as it is.
_NoArgsIsHelp: Any = getattr(_click_exceptions, "NoArgsIsHelpError", ())


def _debug(ctx: Any) -> bool:
    return bool(os.environ.get("DVLIN_DEBUG")) or bool((ctx.obj or {}).get("debug"))


def _report(exc: DvlinError, *, json: bool) -> None:
    if json and exc.report is None:  # a failed check's report was the JSON output already
        import json as _json

        typer.echo(_json.dumps(exc.to_dict(), indent=2))
    from dvlin.render.text import quote

    # The message names user values (paths, refs, commands): never let them drive the terminal
    # or break the one-line shape.
    typer.echo(
        typer.style("error: ", fg="red", bold=True) + quote(exc.message, marks=False), err=True
    )
    if exc.hint:
        typer.echo(typer.style("hint: ", fg="yellow") + quote(exc.hint, marks=False), err=True)


def _is_utf8(arg: str) -> bool:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_utf8(arg: str) -> DvlinError:
    """An argument with bytes that are not UTF-8 (Python keeps them as lone surrogates).

    Names, refs and paths are stored as UTF-8 text in the catalog and manifests, so such an
    argument can never name anything dvlin keeps: it is refused before any command runs.
    """
    from dvlin.errors import UsageError

    shown = arg.encode("utf-8", "surrogateescape")
    return UsageError(
        f"argument {shown!r} is not valid UTF-8",
        hint="dvlin names, refs and paths are UTF-8; rename the file or folder",
    )


def _from_click(exc: Any) -> DvlinError:
    """click's usage error as dvlin's: one lower-case line and a pointer to the help."""
    from dvlin.errors import UsageError

    text = exc.format_message().strip().rstrip(".")
    text = text[:1].lower() + text[1:]
    words = []
    ctx = exc.ctx
    while ctx is not None and ctx.parent is not None:
        words.append(ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(["dvlin", *reversed(words)])
    return UsageError(text, hint=f"see {command} --help")


def _fail(exc: DvlinError, *, json: bool) -> NoReturn:
    _report(exc, json=json)
    sys.exit(int(exc.exit_code))


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


from dvlin.cli import arrow_shim  # noqa: E402
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


def main() -> None:
    """Console-script entry point."""
    arrow_shim.install()
    if _command_word(sys.argv[1:]) in _LEAN_COMMANDS:
        from dvlin import lean

        lean.allow()
    # typer builds a click command for every registered command on each start (~15 ms for
    # 35 of them); a process runs one, so only that one is built when the name is exact.
    saved = app.registered_commands, app.registered_groups
    try:
        _only_invoked(sys.argv[1:])
        app()
    except SystemExit as done:
        _leave(done)
        raise
    finally:
        app.registered_commands, app.registered_groups = saved


def _leave(done: SystemExit) -> None:
    """End the process now that the command is over, without the interpreter's tear-down.

    Tearing the interpreter down frees every object and module one by one (pyarrow's most of
    all) and joins Arrow's thread pools: 30-60 ms of CPU after the last byte of output, in
    every command. Nothing of dvlin's needs it: every file it writes is closed (and synced
    where it must be) and the catalog closed before the command returns, and a process
    killed at any moment leaves a repo status describes truly (the crash promise), so ending
    here is at worst such a kill after the work is done. What the tear-down does that matters
    is done here: the ``atexit`` functions run (dvlin's own, logging's, coverage's) and
    stdout and stderr are flushed. When that cannot be sure (Python threads still running,
    a tracer or profiler attached, an exit code that is not a number, output that cannot be
    flushed), the ordinary exit runs instead (this returns).
    """
    import threading

    code = 0 if done.code is None else done.code
    if (
        not isinstance(code, int)
        or sys.gettrace() is not None
        or sys.getprofile() is not None
        or os.environ.get("DVLIN_SLOW_EXIT")
        or any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread())
    ):
        return
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: Python's own exit reports it as it does
        return
    os._exit(code)


_LEAN_COMMANDS = ("commit", "checkout")
"""Commands that run one op, which may run without NumPy on a small tree (:mod:`dvlin.lean`)."""


def _command_word(args: list[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


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
