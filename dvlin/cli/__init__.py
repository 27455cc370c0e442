"""The ``dvlin`` command line: typer commands over the core API, one module per group.

The typer application (``app``, :mod:`dvlin.cli.typer_app`) is imported on first use: a
one-line ``checkout`` or ``commit`` runs without typer and click (:mod:`dvlin.cli.short`), and
everything else builds the application as before. This module holds what both ways share: the
entry point, the one error translator and the end of the process.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from dvlin.errors import DvlinError, ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

    import typer

    from dvlin.cli.typer_app import DvlinGroup as DvlinGroup

    app: typer.Typer
    _only_invoked: Callable[[list[str]], None]


_TYPER_APP = frozenset({"app", "DvlinGroup", "_only_invoked"})
"""Names served from :mod:`dvlin.cli.typer_app`, imported when one is first asked for. Only
these: ``from dvlin.cli import short`` asks this module for ``short`` before it imports the
submodule, and that must not import typer."""


def __getattr__(name: str) -> Any:
    """``app`` and the rest of the typer application, imported when first asked for."""
    if name not in _TYPER_APP:
        raise AttributeError(f"module 'dvlin.cli' has no attribute {name!r}")
    # import_module, not ``from dvlin.cli import``: that would ask this function again.
    return getattr(importlib.import_module("dvlin.cli.typer_app"), name)


def main() -> None:
    """Console-script entry point."""
    from dvlin.cli import arrow_shim

    arrow_shim.install()
    args = sys.argv[1:]
    if _command_word(args) in _LEAN_COMMANDS:
        from dvlin import lean

        lean.allow()
    from dvlin.cli import short

    short.run(args)  # ends the process when it ran the command
    from dvlin.cli.typer_app import run

    run()


_LEAN_COMMANDS = ("commit", "checkout")
"""Commands that run one op, which may run without NumPy on a small tree (:mod:`dvlin.lean`)."""


def _command_word(args: list[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def leave(done: SystemExit) -> None:
    """End the process now that the command is over, without the interpreter's tear-down.

    Tearing the interpreter down frees every object and module one by one (pyarrow's most of
    all) and joins Arrow's thread pools: 20-60 ms of CPU after the last byte of output, in
    every command. Nothing of dvlin's needs it: every file it writes is closed (and synced
    where it must be) and the catalog closed before the command returns, and a process
    killed at any moment leaves a repo status describes truly (the crash promise), so ending
    here is at worst such a kill after the work is done. What the tear-down does that matters
    is done here: the ``atexit`` functions run (dvlin's own, logging's, coverage's) and
    stdout and stderr are flushed. When that cannot be sure (Python threads still running,
    a tracer or profiler attached, an exit code that is not a number, output that cannot be
    flushed) or DVLIN_SLOW_EXIT is set, the ordinary exit runs instead (this returns).
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


def debugging(obj: Any = None) -> bool:
    """True when tracebacks are wanted: DVLIN_DEBUG, or ``--debug`` (in the context's obj)."""
    return bool(os.environ.get("DVLIN_DEBUG")) or bool((obj or {}).get("debug"))


def _report(exc: DvlinError, *, json: bool) -> None:
    import typer

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


def is_utf8(arg: str) -> bool:
    """False for an argument with bytes that are not UTF-8 (kept as lone surrogates)."""
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def not_utf8(arg: str) -> DvlinError:
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


def from_click(exc: Any) -> DvlinError:
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


def fail(exc: DvlinError, *, json: bool) -> NoReturn:
    """Report a user error (one red line and a hint) and exit with its code."""
    _report(exc, json=json)
    sys.exit(int(exc.exit_code))


def interrupted() -> NoReturn:
    """Ctrl-C: one line, exit 130."""
    import typer

    typer.echo("error: interrupted", err=True)
    sys.exit(int(ExitCode.INTERRUPTED))
