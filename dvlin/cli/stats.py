"""``dvlin stats``: per-column profiles of a version's tables and arrays."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output


@app.command()
def stats(
    ref: str = typer.Argument(..., help="The version: NAME, NAME@v3, NAME@TAG or an id prefix."),
    path: str = typer.Argument(None, help="Only this file, or the files under this folder."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Show each column's type, nulls, distinct values, min/max/mean/std, quantiles, top values.

    Profiles are computed once per version (on commit; on first use for older versions).
    """
    from dvlin.ops.stats import stats as run_stats
    from dvlin.render.inspect import embedding_lines, stats_heading, stats_table

    out = output(json, quiet)
    with open_repo() as repo:
        report = run_stats(repo, ref, path)
    if out.json:
        out.emit_json(report.to_dict())
        return
    out.line(f"{report.ref} ({report.version[:12]})")
    for f in report.files:
        out.line(stats_heading(f))
        if "embedding" in f.profile:
            for line in embedding_lines(f.profile["embedding"]):
                out.line(line)
        elif f.profile.get("columns"):
            out.print(stats_table(f))
