"""``dvlin checkout``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, output
from dvlin.cli.complete import complete_ref
from dvlin.cli.short import run_checkout
from dvlin.errors import UsageError


@app.command()
def checkout(
    ref: str = typer.Argument(
        None,
        help="Version: NAME, NAME@vN, NAME@TAG, NAME@~N or an id (not with --lock).",
        autocompletion=complete_ref,
    ),
    paths: list[str] = typer.Argument(None, help="Only these paths of the version."),
    to: str = typer.Option(
        None,
        "--to",
        help="Write into this folder instead of the asset's own; a new folder works even from "
        "a read-only repo.",
    ),
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
    run_checkout(out, ref=ref, paths=paths or (), to=to, link=link, force=force, dry_run=dry_run)
