"""``dvlin check``: run the contracts on the workspace without committing."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import CheckFailedError
from dvlin.render.text import plural, quote


@app.command()
def check(
    targets: list[str] = typer.Argument(
        None, help="Assets or paths to check (default: every asset in dvlin.toml)."
    ),
    all_results: bool = typer.Option(
        False, "--all", "-a", help="List passing rules too (default: only failures)."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Run the contracts of dvlin.toml on the workspace; exit 1 if a rule fails. Writes nothing."""
    from dvlin.ops.check import check as run_check
    from dvlin.render.checks import results_table

    out = output(json, quiet)
    with open_repo() as repo:
        report = run_check(repo, targets or ())
    if out.json:
        out.emit_json(report.to_dict())
    elif not report.assets:
        out.line("no policies to check (add [assets.NAME] tables to dvlin.toml)")
    else:
        for a in report.assets:
            n = len(a.failures)
            mark = "✓" if a.passed else "✗"
            summary = (
                f"{plural(len(a.results), 'rule')} passed"
                if a.passed
                else f"{n} of {plural(len(a.results), 'rule')} failed"
            )
            out.line(f"{mark} {quote(a.asset)} ({quote(a.path) if a.path else '—'}): {summary}")
            shown = a.results if all_results else a.failures
            if shown:
                out.print(results_table(shown))
    if not report.passed:
        failed = [a.asset for a in report.assets if not a.passed]
        raise CheckFailedError(f"contract failed for {', '.join(failed)}", report=report)
