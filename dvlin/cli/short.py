"""The commonest one-line commands, run without typer and click (~35 ms of every start).

``dvlin checkout REF [--to DIR]``, ``dvlin commit PATH... [--name NAME] [--message TEXT]`` and
``dvlin status [NAME...]``, each with at most ``-q/--quiet`` besides, are parsed here; anything
else (help, completion, any other option or flag, an option given twice, a value or a path
that starts with ``-``, ``--``, arguments that are not UTF-8, DVLIN_DEBUG) goes to the typer
application unchanged. The
bodies below are the ones the typer commands run, errors go through the one translator
(:func:`dvlin.cli.fail`), and the process ends as the typer way ends it, so the output, the
exit codes and the messages are the same either way (``tests/cli/test_short.py``).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO, cast

from dvlin.cli import fail, interrupted, is_utf8, leave
from dvlin.errors import DvlinError
from dvlin.render.output import Output, human_bytes
from dvlin.render.text import plural, quote

if TYPE_CHECKING:
    from dvlin.ops.checkout import LinkMode
    from dvlin.ops.status import WorkspaceStatus
    from dvlin.repo import Repo

_QUIET = ("-q", "--quiet")
_VALUES = {
    "commit": {"--name": "name", "-n": "name", "--message": "message", "-m": "message"},
    "checkout": {"--to": "to"},
    "status": {},
}
_SHOWN = 20


def parse(args: Sequence[str]) -> tuple[str, list[str], dict[str, str], bool] | None:
    """``(command, positional, values, quiet)`` when ``args`` are a command run here, else None."""
    if not args or args[0] not in _VALUES:
        return None
    if any(k.endswith("_COMPLETE") for k in os.environ) or os.environ.get("DVLIN_DEBUG"):
        return None
    if not all(is_utf8(a) for a in args):
        return None
    command, options = args[0], _VALUES[args[0]]
    positional: list[str] = []
    values: dict[str, str] = {}
    quiet = False
    rest = list(args[1:])
    while rest:
        arg = rest.pop(0)
        if arg in _QUIET:
            quiet = True
        elif arg in options:
            key = options[arg]
            if key in values or not rest or rest[0].startswith("-"):
                return None
            values[key] = rest.pop(0)
        elif arg.startswith("-"):
            return None  # another option, --help, --, or a path that looks like an option
        else:
            positional.append(arg)
    if command == "checkout" and len(positional) != 1:
        return None
    if command == "commit" and not positional:
        return None
    return command, positional, values, quiet


def run(args: Sequence[str]) -> None:
    """Run the command ``args`` name and end the process, if it is one run here; else return."""
    parsed = parse(args)
    if parsed is None:
        return
    command, positional, values, quiet = parsed
    out = Output(json=False, quiet=quiet)
    try:
        if command == "checkout":
            run_checkout(out, ref=positional[0], to=values.get("to"))
        elif command == "status":
            run_status(out, positional)
        else:
            run_commit(out, positional, name=values.get("name"), message=values.get("message", ""))
    except DvlinError as exc:
        fail(exc, json=False)
    except KeyboardInterrupt:
        interrupted()
    except EOFError as exc:
        raise RuntimeError(f"unexpected end of data: {exc}") from exc
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        # What click does on a closed pipe (typer carries its own click from 0.26, the floor).
        from typer._click.utils import PacifyFlushWrapper

        sys.stdout = cast(TextIO, PacifyFlushWrapper(sys.stdout))
        sys.stderr = cast(TextIO, PacifyFlushWrapper(sys.stderr))
        sys.exit(1)
    done = SystemExit(0)
    leave(done)
    raise done


def _open_repo() -> Repo:
    from dvlin.repo import Repo

    return Repo.open(".")


def run_checkout(
    out: Output,
    *,
    ref: str,
    paths: Sequence[str] = (),
    to: str | None = None,
    link: str = "copy",
    force: bool = False,
    dry_run: bool = False,
) -> None:
    """``dvlin checkout`` of one version (not ``--lock``): what the typer command runs too."""
    from dvlin.ops.checkout import checkout as checkout_ref

    with _open_repo() as repo:
        result = checkout_ref(
            repo,
            ref,
            paths,
            to=to,
            link=cast("LinkMode", link),
            force=force,
            dry_run=dry_run,
            progress=out.progress(),
        )
    if out.json:
        out.emit_json(result.to_dict())
        return
    if result.dry_run:
        out.line(
            f"dry run: checking out {quote(result.version.label)} into "
            f"{quote(str(result.target))} would"
        )
        for label, listed, sign in (
            ("write", result.planned_writes, "+"),
            ("remove", result.planned_removals, "-"),
            ("discard uncommitted changes in", result.discarded, "!"),
        ):
            out.line(f"  {label} {plural(len(listed), 'path')}")
            for p in listed[:20]:
                out.line(f"    {sign} {quote(p)}")
            if len(listed) > 20:
                out.line(f"    … and {len(listed) - 20:,} more")
        return
    if result.discarded:
        out.line(
            f"discarded uncommitted changes in {plural(len(result.discarded), 'path')}: "
            + ", ".join(quote(p) for p in result.discarded[:10])
        )
    fallback = ""
    if result.link_fallbacks:
        why = ", ".join(f"{n:,} {reason}" for reason, n in result.fallback_reasons)
        fallback = f", {result.link_fallbacks:,} copied instead of linked ({why})"
    out.line(
        f"checked out {quote(result.version.label)} {result.version.id[:10]} into "
        f"{quote(str(result.target))}: "
        f"{result.written:,} written ({human_bytes(result.bytes_written)}), "
        f"{result.removed:,} removed, {result.unchanged:,} unchanged{fallback}"
    )


def run_commit(
    out: Output,
    paths: Sequence[str],
    *,
    name: str | None = None,
    message: str = "",
    kind: str | None = None,
    tags: Sequence[str] = (),
    meta: Sequence[str] = (),
    force: bool = False,
    reason: str | None = None,
    allow_overlap: bool = False,
    follow_links: bool = False,
) -> None:
    """``dvlin commit``: what the typer command runs too."""
    from dvlin.ops.commit_early import start_cutting

    start_cutting(paths)  # before pyarrow and the catalog load: a big file's cuts start now
    from dvlin.errors import CheckFailedError
    from dvlin.ops.commit import commit as commit_paths
    from dvlin.ops.common import parse_key_values

    metadata = parse_key_values(list(meta), flag="--meta")
    with _open_repo() as repo:
        try:
            result = commit_paths(
                repo,
                list(paths),
                name=name,
                message=message,
                kind=kind,
                tags=list(tags),
                meta=metadata,
                progress=out.progress(),
                force=force,
                reason=reason,
                overlap=allow_overlap,
                follow_links=follow_links,
            )
        except CheckFailedError as exc:  # ops.check is imported only when a contract ran
            from dvlin.ops.check import PolicyViolation

            if not isinstance(exc, PolicyViolation):
                raise
            from dvlin.render.checks import results_table

            out.line(f"✗ {quote(exc.message, marks=False)}")
            out.print(results_table(exc.check.failures, status=False))
            raise
    if out.json:
        out.emit_json(result.to_dict())
        return
    v = result.version
    if not result.created:
        out.line(f"nothing to commit: {quote(v.label)} {v.id[:10]} already holds this tree")
        return
    c = result.diff.counts()
    out.line(
        f"→ {quote(v.label)}  {v.id[:10]}  {plural(v.files, 'file')}  {human_bytes(v.bytes)}  "
        f"(+{c['added']} ~{c['changed']} -{c['removed']}; "
        f"stored {human_bytes(result.new_bytes)} new)"
    )
    override = v.info.override
    if override is not None:
        out.line(f"{plural(override.failed, 'failed rule')} overridden: {quote(override.reason)}")


def run_status(out: Output, names: Sequence[str] = (), *, exit_code: bool = False) -> None:
    """``dvlin status``: what the typer command runs too."""
    from dvlin.errors import CheckFailedError
    from dvlin.ops.status import workspace_status

    with _open_repo() as repo:
        result = workspace_status(repo, names, progress=out.progress())
    _render_status(out, result)
    report = result.report
    if exit_code and not report.clean:
        raise CheckFailedError(
            ", ".join(f"{a.asset} is {a.state}" for a in report.assets if not a.clean),
            hint="commit the changes, or check out the version to discard them",
            report=result,
        )


def _render_status(out: Output, result: WorkspaceStatus) -> None:
    if out.json:
        out.emit_json(result.to_dict())
        return
    report, drift = result.report, result.drift
    for stopped in report.interrupted:
        if not any(a.interrupted == stopped for a in report.assets):
            out.line(f"{quote(stopped.target)}: {quote(stopped.message, marks=False)}")
    for d in drift:
        out.line(quote(d.message, marks=False))
    if not report.assets:
        if not report.interrupted:
            out.line("no assets tracked yet (dvlin commit PATH --name NAME)")
        return
    for a in report.assets:
        behind = "" if a.version.id == a.latest.id else f" (latest is {quote(a.latest.label)})"
        if a.interrupted is not None:
            out.line(f"{quote(a.asset)}: {quote(a.interrupted.message, marks=False)}")
        elif not a.checked_out:
            out.line(
                f"{quote(a.asset)}: not checked out ({quote(a.latest.label)} is the latest; "
                f"dvlin checkout {quote(a.asset)})"
            )
        elif a.diff.clean:
            out.line(f"{quote(a.asset)}: clean at {quote(a.version.label)}{behind}")
        if a.diff.clean:
            continue
        c = a.diff.counts()
        out.line(
            f"{quote(a.asset)}: modified ({c['added']} added, {c['changed']} changed, "
            f"{c['removed']} removed) since {quote(a.version.label)}{behind}"
        )
        for sign, paths in (("+", a.diff.added), ("~", a.diff.changed), ("-", a.diff.removed)):
            for p in paths[:_SHOWN]:
                out.line(f"  {sign} {quote(p)}")
            if len(paths) > _SHOWN:
                out.line(f"  {sign} … and {len(paths) - _SHOWN:,} more")
