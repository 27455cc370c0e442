"""``dvlin audit log``, ``verify``, ``head`` and ``redact``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import CheckFailedError, IntegrityError
from dvlin.render.output import short_time
from dvlin.render.text import plural, quote

audit_app = typer.Typer(
    help="The tamper-evident audit log of every change to the catalog.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(audit_app, name="audit")


@audit_app.command("log")
def audit_log(
    asset: str = typer.Option(None, "--asset", help="Only entries about this asset."),
    action: str = typer.Option(None, "--action", help="Only this action (commit, tag, …)."),
    since: str = typer.Option(
        None,
        "--since",
        help="Only entries at or after this date or time (2026-03-01, 2026-03-01T12:00+01:00; "
        "UTC unless an offset is given).",
    ),
    clones: bool = typer.Option(
        False, "--clones", help="Also other clones' entries (brought by fetch), with clone ids."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """List audit entries in order: sequence, time, actor, action, target, outcome, reason."""
    from dvlin.ops.audit import log

    out = output(json, quiet)
    with open_repo() as repo:
        if clones:
            from dvlin.ops.audit import log_all_clones

            rows = log_all_clones(repo, asset=asset, action=action, since=since)
            if out.json:
                out.emit_json([r.to_dict() for r in rows])
                return
            for c, e in ((r.clone, r.entry) for r in rows):
                reason = f"  reason: {quote(e.reason)}" if e.reason else ""
                out.line(
                    f"{c[:12]}  {e.seq:>6}  {short_time(e.at)}  {quote(e.actor)}  {e.action}  "
                    f"{quote(e.target)}  {e.outcome}{reason}"
                )
            return
        found = log(repo, asset=asset, action=action, since=since)
    if out.json:
        out.emit_json([e.to_dict() for e in found])
        return
    if not found:
        out.line("no audit entries")
    for e in found:
        reason = f"  reason: {quote(e.reason)}" if e.reason else ""
        erased = f"  (redacted: {', '.join(sorted(e.redacted))})" if e.redacted else ""
        out.line(
            f"{e.seq:>6}  {short_time(e.at)}  {quote(e.actor)}  {e.action}  {quote(e.target)}  "
            f"{e.outcome}{reason}{erased}"
        )


@audit_app.command("verify")
def audit_verify(
    expect_head: str = typer.Option(
        None,
        "--expect-head",
        metavar="SEQ:HASH",
        help="Also prove the log still reaches this head (nothing cut off the end).",
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Recompute the hash chain and replay it against the catalog.

    Exit 1 at the first edited, removed, inserted or moved entry; exit 4 when catalog rows
    (versions, tags, holds, stages, overrides, expiries, runs, links) disagree with the
    chain, each named. Other clones' chains brought in by fetch and pull are verified too.
    """
    from dvlin.ops.audit import verify_all

    out = output(json, quiet)
    with open_repo() as repo:
        report = verify_all(repo, expect_head=expect_head)
    result, clones = report.chain, report.clones
    if out.json:
        out.emit_json(report.to_dict())
    elif result.ok:
        out.line(
            f"✓ {plural(result.entries, 'entry', 'entries')}, chain intact, head {result.head}"
        )
    else:  # a broken chain is the error line; each disagreeing row is named here
        for m in result.mismatches:
            typer.echo(typer.style("✗ ", fg="red") + quote(m.problem, marks=False), err=True)
    if not out.json and result.redacted:
        listed = "; ".join(
            f"entry {r.seq} ({', '.join(r.fields)})" + (f" by entry {r.by}" if r.by else "")
            for r in result.redacted
        )
        out.line(f"redacted: {listed}")
    if not out.json:
        for c in clones:
            if c.ok:
                out.line(f"✓ clone {c.clone[:12]}: {c.entries:,} entries, chain intact")
            else:
                problem = quote(str(c.problem), marks=False)
                typer.echo(
                    typer.style("✗ ", fg="red") + f"clone {c.clone[:12]}: {problem}", err=True
                )
    if result.mismatches:
        n = len(result.mismatches)
        raise IntegrityError(
            f"{plural(n, 'catalog row')} {'disagrees' if n == 1 else 'disagree'} with the audit"
            " chain",
            hint="`dvlin fsck` names the versions affected",
            report=report,
        )
    if result.problem:
        raise CheckFailedError(f"the audit chain is broken: {result.problem}", report=report)
    broken = [c.clone[:12] for c in clones if not c.ok]
    if broken:
        raise CheckFailedError(
            f"the audit chain of clone {', '.join(broken)} is broken", report=report
        )


@audit_app.command("head")
def audit_head(json: bool = JSON) -> None:
    """Print the head of the log as SEQ:HASH, for CI logs to anchor."""
    from dvlin.ops.audit import head

    out = output(json, False)
    with open_repo() as repo:
        result = head(repo)
    if out.json:
        out.emit_json(result.to_dict())
    else:
        out.line(result.head)


@audit_app.command("redact")
def audit_redact(
    seq: int = typer.Argument(..., help="The entry to erase fields of."),
    field: list[str] = typer.Option(
        ..., "--field", help="A field to erase: actor, outcome, reason or details (repeatable)."
    ),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Erase personal data from an entry; the chain still verifies and reports the erasure."""
    from dvlin.ops.audit import redact

    out = output(json, quiet)
    with open_repo() as repo:
        entry = redact(repo, seq, field, reason=reason)
    if out.json:
        out.emit_json(entry.to_dict())
    else:
        out.line(
            f"redacted {', '.join(entry.details['fields'])} of entry {seq} (entry {entry.seq})"
        )


@audit_app.command("report")
def audit_report(
    asset: list[str] = typer.Option(
        None, "--asset", help="Only this asset (repeatable); models' lineage still shown whole."
    ),
    since: str = typer.Option(
        None,
        "--since",
        help="Only versions, holds, expiries and gc runs at or after this date or time.",
    ),
    fmt: str = typer.Option(
        "html", "--format", help="html (self-contained, printable), md (Markdown) or json."
    ),
    out_file: str = typer.Option(
        None, "-o", "--output", help="Write the report to this file (default: standard output)."
    ),
) -> None:
    """One document for reviewers: inventory, contracts and overrides, holds, expiries, gc,
    model stages and lineage, drift, and the audit chain's verification.

    Exit 1 (after writing the report, which says so at the top) when the chain is broken or
    the catalog disagrees with it.
    """
    from dvlin.ops.report import check_format, report
    from dvlin.render.report import render

    check_format(fmt)
    with open_repo() as repo:
        result = report(repo, assets=asset or (), since=since)
    text = render(result, fmt)
    if out_file:
        from dvlin.ops.report import write_report

        write_report(out_file, text)
    else:
        typer.echo(text, nl=False)
    if not result.ok:
        raise CheckFailedError(
            "audit chain verification failed (see the report)",
            hint="`dvlin audit verify` names every entry and row that disagrees",
            report=result,
        )
