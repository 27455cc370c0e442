"""``dvlin lock`` and ``dvlin lock --check``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import CheckFailedError
from dvlin.render.output import Output
from dvlin.render.text import plural


@app.command()
def lock(
    check: bool = typer.Option(
        False, "--check", help="Change nothing; exit 1 when dvlin.lock is stale (for hooks, CI)."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Write dvlin.lock (asset -> version) from the workspace, or check that it is current."""
    from dvlin.ops import lock as ops_lock

    out = output(json, quiet)
    with open_repo() as repo:
        if check:
            result = ops_lock.check(repo)
        else:
            written = ops_lock.write(repo)
    if not check:
        if out.json:
            out.emit_json(written.to_dict())
        else:
            out.line(f"dvlin.lock pins {plural(len(written.pins), 'asset')}")
            for p in written.pins:
                out.line(f"  {p.label}  {p.id[:10]}")
        return
    if out.json:
        out.emit_json(result.to_dict())
    elif result.ok:
        out.line("dvlin.lock is up to date")
    else:
        if not result.exists:
            out.line("dvlin.lock is missing")
        for d in result.drift:
            out.line(d.message)
    if not result.ok:
        raise CheckFailedError(
            "dvlin.lock is missing"
            if not result.exists
            else f"dvlin.lock disagrees with the workspace ({plural(len(result.drift), 'asset')})",
            hint="run `dvlin lock` to pin the workspace, or `dvlin checkout --lock` to restore it",
            report=result,
        )


def checkout_lock(
    out: Output,
    *,
    ref: str | None,
    paths: list[str] | None,
    to: str | None,
    force: bool,
    dry_run: bool,
) -> None:
    """``dvlin checkout --lock``: every version the lock pins, each into its own path."""
    from dvlin.errors import UsageError
    from dvlin.ops.lock import checkout_lock as ops_checkout_lock

    if ref is not None or paths or to:
        raise UsageError(
            "--lock takes no ref, paths or --to",
            hint="dvlin checkout --lock restores every pinned asset into its own path",
        )
    with open_repo() as repo:
        result = ops_checkout_lock(repo, force=force, dry_run=dry_run, progress=out.progress())
    if out.json:
        out.emit_json(result.to_dict())
        return
    verb = "would check out" if result.dry_run else "checked out"
    for c in result.checkouts:
        out.line(
            f"{verb} {c.version.label} {c.version.id[:10]}: {c.written:,} written, {c.removed:,} removed"
        )
    for asset in result.unchanged:
        out.line(f"{asset}: already as locked")
    if not result.checkouts and not result.unchanged:
        out.line("dvlin.lock pins no assets")
