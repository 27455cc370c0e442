"""``dvlin fsck``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import CheckFailedError, IntegrityError
from dvlin.render.output import human_bytes
from dvlin.render.text import plural, quote


@app.command()
def fsck(
    remote: str = typer.Option(
        None, "--remote", help="Verify this remote instead: every file its records reference."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Verify every version's objects, the catalog file and the audit chain (reads everything).

    Exit 4 when objects are missing or corrupt or catalog rows disagree with the audit log
    (each named with the versions it affects); exit 1 when the audit chain itself is broken.
    """
    from dvlin.ops.fsck import fsck as run_fsck

    out = output(json, quiet)
    if remote is not None:
        _fsck_remote(out, remote)
        return
    with open_repo() as repo:
        report = run_fsck(repo, progress=out.progress())
    if out.json:
        out.emit_json(report.to_dict())
    else:
        audit = report.audit
        if audit.problem:
            summary = str(audit.problem)
        elif audit.mismatches:
            n = len(audit.mismatches)
            summary = f"{plural(n, 'row')} {'disagrees' if n == 1 else 'disagree'} with the chain"
        else:
            summary = "intact"
        out.line(
            f"checked {plural(report.versions, 'version')}, {plural(report.objects, 'object')} "
            f"({human_bytes(report.bytes)}); catalog: {report.catalog}; audit: "
            + quote(summary, marks=False)
        )
        for p in report.problems:
            named = [v for v in p.versions if v not in p.message]
            more = f", +{len(named) - 5} more" if len(named) > 5 else ""
            affects = f" (affects {', '.join(named[:5])}{more})" if named else ""
            out.line(f"  ✗ {p.kind}: {quote(p.message, marks=False)}{affects}")
    if report.problems or report.catalog != "ok":
        found = [plural(len(report.problems), "problem")] if report.problems else []
        if report.catalog != "ok":
            found.append(f"catalog: {report.catalog}")
        raise IntegrityError(f"fsck found {', '.join(found)}", report=report)
    if not report.audit.ok:
        raise CheckFailedError(f"the audit chain is broken: {report.audit.problem}", report=report)


def _fsck_remote(out, remote: str) -> None:  # type: ignore[no-untyped-def]
    from dvlin.ops.remote_fsck import fsck_remote

    with open_repo() as repo:
        report = fsck_remote(repo, remote, progress=out.progress())
    if out.json:
        out.emit_json(report.to_dict())
    else:
        out.line(
            f"checked remote {report.remote}: {report.segments:,} segments, {report.files:,} "
            f"files, {report.objects:,} objects ({human_bytes(report.bytes)}); "
            f"{report.unreferenced:,} unreferenced files"
        )
        for p in report.problems:
            used = f" (used by {', '.join(p.versions)})" if p.versions else ""
            out.line(f"  ✗ {p.kind}: {p.message}{used}")
    if report.problems:
        raise IntegrityError(
            f"remote {remote}: {plural(len(report.problems), 'problem')}", report=report
        )
