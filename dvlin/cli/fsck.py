"""``dvlin fsck``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import ExitCode
from dvlin.render.output import human_bytes
from dvlin.render.text import plural, quote


@app.command()
def fsck(json: bool = JSON, quiet: bool = QUIET) -> None:
    """Verify every version's objects, the catalog file and the audit chain (reads everything)."""
    from dvlin.ops.fsck import fsck as run_fsck

    out = output(json, quiet)
    with open_repo() as repo:
        report = run_fsck(repo, progress=out.progress())
    if out.json:
        out.emit_json(report.to_dict())
    else:
        out.line(
            f"checked {plural(report.versions, 'version')}, {plural(report.objects, 'object')} "
            f"({human_bytes(report.bytes)}); catalog: {report.catalog}; audit: "
            + ("intact" if report.audit.ok else quote(str(report.audit.problem), marks=False))
        )
        for p in report.problems:
            out.line(f"  ✗ {p.kind}: {quote(p.message, marks=False)}")
    if report.problems or report.catalog != "ok":
        raise typer.Exit(int(ExitCode.INTEGRITY))
    if not report.audit.ok:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))
