"""``dvlin retention``, ``dvlin hold`` and ``dvlin release``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.render.output import human_bytes, short_time
from dvlin.render.text import plural, quote


@app.command()
def retention(
    names: list[str] = typer.Argument(None, help="Assets (default: all)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Per version: kept (and which rule keeps it) or expiring. Changes nothing."""
    from dvlin.ops.retention import retention as report_retention

    out = output(json, quiet)
    with open_repo() as repo:
        report = report_retention(repo, names or ())
    if out.json:
        out.emit_json(report.to_dict())
        return
    for r in report.rows:
        state = "kept    " if r.decision.kept else "EXPIRING"
        if r.expired_at is not None:
            state = "expired "
        why = ", ".join(quote(w) for w in r.decision.reasons) or "no rule keeps it"
        out.line(
            f"{state}  {quote(r.version.label):<24} {short_time(r.version.created_at)}  "
            f"{human_bytes(r.version.bytes):>10}  {why}"
        )
    n = len(report.expiring)
    out.line(
        f"{plural(n, 'version')} expiring, "
        f"{human_bytes(sum(r.version.bytes for r in report.expiring))}"
    )


@app.command()
def hold(
    ref: str = typer.Argument(..., help="The version to hold."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Put a hold on a version: it never expires while held."""
    from dvlin.ops.retention import hold as put_hold

    out = output(json, quiet)
    with open_repo() as repo:
        result = put_hold(repo, ref, reason=reason)
    if out.json:
        out.emit_json(result.to_dict())
    else:
        out.line(f"held {quote(result.version.label)}: {quote(result.hold.reason)}")


@app.command()
def release(
    ref: str = typer.Argument(..., help="The held version."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Lift the hold on a version; retention rules apply to it again."""
    from dvlin.ops.retention import release as lift

    out = output(json, quiet)
    with open_repo() as repo:
        result = lift(repo, ref, reason=reason)
    if out.json:
        out.emit_json(result.to_dict())
    else:
        held_since = short_time(result.hold.created_at)
        out.line(f"released {quote(result.version.label)} (held since {held_since})")
