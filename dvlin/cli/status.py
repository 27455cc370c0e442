"""``dvlin status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.cli.complete import complete_asset
from dvlin.errors import CheckFailedError
from dvlin.render.output import Output
from dvlin.render.text import quote

if TYPE_CHECKING:
    from dvlin.ops.status import WorkspaceStatus

_SHOWN = 20


@app.command()
def status(
    names: list[str] = typer.Argument(
        None, help="Assets to check (default: all).", autocompletion=complete_asset
    ),
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit 1 while an asset is modified (for hooks and CI)."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Show which assets are clean and which have added, changed or removed paths."""
    from dvlin.ops.status import workspace_status

    out = output(json, quiet)
    with open_repo() as repo:
        result = workspace_status(repo, names or (), progress=out.progress())
    _render(out, result)
    report = result.report
    if exit_code and not report.clean:
        raise CheckFailedError(
            ", ".join(f"{a.asset} is {a.state}" for a in report.assets if not a.clean),
            hint="commit the changes, or check out the version to discard them",
            report=result,
        )


def _render(out: Output, result: WorkspaceStatus) -> None:
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
