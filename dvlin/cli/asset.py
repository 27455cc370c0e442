"""``dvlin rm`` and ``dvlin mv``: manage an asset as a whole."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_asset
from dvlin.render.output import Output
from dvlin.render.text import plural


@app.command()
def rm(
    name: str = typer.Argument(
        ..., help="The asset (its name or its path).", autocompletion=complete_asset
    ),
    keep_files: bool = typer.Option(
        False, "--keep-files", help="Untrack only; leave the files where they are."
    ),
    force: bool = typer.Option(
        False, "--force", "-f", help="Delete the files even with uncommitted changes."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Stop tracking an asset (its versions and history stay; audited)."""
    from dvlin.ops.asset import rm as ops_rm

    out = output(json, quiet)
    with open_repo() as repo:
        result = ops_rm(repo, name, keep_files=keep_files, force=force)
    if out.json:
        out.emit_json(result.to_dict())
        return
    files = "files deleted" if result.deleted_files else "files kept"
    out.line(
        f"untracked {result.asset} ({files}: {', '.join(result.paths)}); its "
        f"{plural(result.versions, 'version')} remain, e.g. {result.asset}@v{result.versions}"
    )


@app.command()
def mv(
    name: str = typer.Argument(
        ..., help="The asset (its name or its path).", autocompletion=complete_asset
    ),
    new_name: str = typer.Argument(..., help="Its new name; the old one stays as an alias."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Rename an asset; refs to the old name keep resolving (audited)."""
    from dvlin.ops.asset import mv as ops_mv

    out = output(json, quiet)
    with open_repo() as repo:
        result = ops_mv(repo, name, new_name)
    if out.json:
        out.emit_json(result.to_dict())
        return
    out.line(
        f"renamed {result.old} to {result.new} ({plural(result.versions, 'version')}); "
        f"{result.old}@… still resolves"
    )


def delete_tag(out: Output, ref: str, name: str) -> None:
    """``dvlin tag --delete REF TAG``."""
    from dvlin.ops.asset import delete_tag as ops_delete_tag

    with open_repo() as repo:
        result = ops_delete_tag(repo, ref, name)
    t = result.tag
    if out.json:
        out.emit_json(result.to_dict())
    else:
        out.line(f"deleted tag {t.asset}@{t.name} (was on v{t.number})")
