"""``dvlin fsck``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import ExitCode
from dvlin.render.output import human_bytes


@app.command()
def fsck(
    remote: str = typer.Option(
        None, "--remote", help="Verify this remote instead: every file its records reference."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Verify every version's objects, the catalog file and the audit chain (reads everything)."""
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
        out.line(
            f"checked {report.versions:,} versions, {report.objects:,} objects "
            f"({human_bytes(report.bytes)}); catalog: {report.catalog}; audit: "
            + ("intact" if report.audit.ok else str(report.audit.problem))
        )
        for p in report.problems:
            out.line(f"  ✗ {p.kind}: {p.message}")
    if report.problems or report.catalog != "ok":
        raise typer.Exit(int(ExitCode.INTEGRITY))
    if not report.audit.ok:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


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
        raise typer.Exit(int(ExitCode.INTEGRITY))
