"""``dvlin gc``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import UsageError
from dvlin.render.output import human_bytes
from dvlin.render.text import plural, quote


@app.command()
def gc(
    plan_id: str = typer.Argument(None, metavar="[PLAN]", help="A plan id from a dry run."),
    apply: bool = typer.Option(False, "--apply", help="Delete (after re-checking the plan)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only plan (the default); refused together with --apply."
    ),
    remote: str = typer.Option(
        None, "--remote", help="Collect garbage on this remote, from its own records."
    ),
    grace: str = typer.Option(
        "24h", "--grace", help="With --remote: keep unreferenced files younger than this."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Dry run by default: plan what retention expires and which objects would go."""
    from dvlin.ops import gc as ops_gc

    out = output(json, quiet)
    if dry_run and apply:
        raise UsageError("--dry-run and --apply contradict each other", hint="choose one")
    if remote is not None:
        _gc_remote(out, remote, apply=apply, grace=grace)
        return
    with open_repo() as repo:
        if apply:
            result = ops_gc.apply(repo, plan_id, progress=out.progress())
        else:
            result = ops_gc.plan(repo, progress=out.progress())
    if out.json:
        out.emit_json(result.to_dict())
        return
    expired = "expired" if result.applied else "would expire"
    verb = "deleted" if result.applied else "would delete"
    orphans = f" ({len(result.orphans):,} orphaned)" if result.orphans else ""
    temporary = (
        f" and {plural(len(result.temporary), 'temporary file')}" if result.temporary else ""
    )
    out.line(
        f"{'applied' if result.applied else 'dry run:'} plan {result.id} — "
        f"{plural(len(result.versions), 'version')} {expired}, {verb} "
        f"{plural(len(result.objects), 'object')}{orphans}{temporary}, "
        f"{human_bytes(result.bytes)}"
        + (f"; {result.young:,} younger than grace kept" if result.young else "")
    )
    for v in result.versions[:20]:
        out.line(f"  - {quote(v.label)}")
    if len(result.versions) > 20:
        out.line(f"  … and {len(result.versions) - 20:,} more versions")
    for oid, size in result.orphans[:20]:
        out.line(f"  - orphan {oid}  {human_bytes(size)}")
    if len(result.orphans) > 20:
        out.line(f"  … and {len(result.orphans) - 20:,} more orphans")
    for name, size in result.temporary[:20]:
        out.line(f"  - tmp/{quote(name)}  {human_bytes(size)}")
    if len(result.temporary) > 20:
        out.line(f"  … and {len(result.temporary) - 20:,} more temporary files")
    if result.orphans_skipped:
        out.line("unreferenced objects are not swept: storage.url may be shared by other repos")
    if not result.applied and (result.objects or result.temporary):
        out.line(f"apply with: dvlin gc --apply {result.id}")


def _gc_remote(out, remote: str, *, apply: bool, grace: str) -> None:  # type: ignore[no-untyped-def]
    from dvlin.ops.remote_gc import gc_remote

    with open_repo() as repo:
        result = gc_remote(repo, remote, apply=apply, grace=grace)
    if out.json:
        out.emit_json(result.to_dict())
        return
    verb = "deleted" if result.applied else "would delete"
    out.line(
        f"{'applied' if result.applied else 'dry run:'} remote {result.remote} — {verb} "
        f"{plural(len(result.files), 'file')} ({plural(result.objects, 'object')} of expired "
        "versions, "
        f"{human_bytes(result.bytes)}; {result.orphans:,} unreferenced)"
        + (f"; {result.young:,} younger than grace kept" if result.young else "")
    )
    if not result.applied and result.files:
        out.line(f"apply with: dvlin gc --remote {result.remote} --apply")
