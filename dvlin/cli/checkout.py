"""``dvlin checkout``."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_ref
from dvlin.errors import UsageError
from dvlin.render.output import human_bytes
from dvlin.render.text import plural, quote

if TYPE_CHECKING:
    from dvlin.ops.checkout import LinkMode


@app.command()
def checkout(
    ref: str = typer.Argument(
        None,
        help="Version: NAME, NAME@vN, NAME@TAG, NAME@~N or an id (not with --lock).",
        autocompletion=complete_ref,
    ),
    paths: list[str] = typer.Argument(None, help="Only these paths of the version."),
    to: str = typer.Option(None, "--to", help="Write into this folder instead of the asset's own."),
    link: str = typer.Option(
        "copy", "--link", help="copy, hardlink, reflink or symlink (objects stay read-only)."
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Discard uncommitted changes."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        "-n",
        help="Show what would be written, removed and discarded; change nothing.",
    ),
    lock: bool = typer.Option(
        False, "--lock", help="Check out every version dvlin.lock pins, each into its own path."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Materialise a version byte for byte, into its own path or --to a folder."""
    out = output(json, quiet)
    if lock:
        from dvlin.cli.lock import checkout_lock

        checkout_lock(out, ref=ref, paths=paths, to=to, force=force, dry_run=dry_run)
        return
    if ref is None:
        raise UsageError("checkout needs a ref, or --lock", hint="e.g. dvlin checkout events@v3")
    from dvlin.ops.checkout import checkout as checkout_ref

    with open_repo() as repo:
        result = checkout_ref(
            repo,
            ref,
            paths or (),
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
