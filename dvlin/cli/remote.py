"""``dvlin remote …``, ``dvlin push``, ``dvlin fetch``, ``dvlin pull`` and ``dvlin clone``."""

from __future__ import annotations

import typer

from dvlin.cli import app
from dvlin.cli.common import JSON, QUIET, open_repo, output
from dvlin.errors import ConflictError
from dvlin.render.output import human_bytes
from dvlin.render.text import plural

remote_app = typer.Typer(
    help="Named remotes: object stores that share versions, lineage and audit between clones.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(remote_app, name="remote")

OPTION = typer.Option(
    None,
    "--option",
    "-o",
    metavar="KEY=VALUE",
    help="Passed to the filesystem (e.g. endpoint_url=…); never credentials.",
)
REMOTE = typer.Option(None, "--remote", "-r", help="The remote (default: the default remote).")


def _options(pairs: list[str] | None) -> dict[str, str]:
    from dvlin.errors import UsageError
    from dvlin.ops.common import parse_key_values

    found = parse_key_values(tuple(pairs or ()), flag="--option")
    if len(found) < len(pairs or ()):
        keys = [p.partition("=")[0].strip() for p in pairs or ()]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise UsageError(
            f"--option {twice[0]} is given more than once", hint="give each option once"
        )
    return found


@remote_app.command("add")
def remote_add(
    name: str = typer.Argument(..., help="A short name, e.g. origin."),
    url: str = typer.Argument(..., help="Any supported fsspec URL: s3://…, file://…, memory://…"),
    option: list[str] = OPTION,
    default: bool = typer.Option(False, "--default", help="Make it the default remote."),
    group: list[str] = typer.Option(
        None,
        "--group",
        metavar="NAME=URL",
        help="Keep storage group NAME in another store (e.g. another bucket).",
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Add a remote to .dvlin/config.toml (the remote is not contacted)."""
    from dvlin.ops import remote as ops
    from dvlin.ops.common import parse_key_values

    out = output(json, quiet)
    groups = parse_key_values(tuple(group or ()), flag="--group")
    with open_repo() as repo:
        info = ops.add(repo, name, url, options=_options(option), default=default, groups=groups)
    if out.json:
        out.emit_json(info.to_dict())
        return
    out.line(f"added remote {info.name} → {info.url}" + (" (default)" if info.default else ""))


@remote_app.command("list")
def remote_list(json: bool = JSON, quiet: bool = QUIET) -> None:
    """List remotes: name, URL, default."""
    from dvlin.ops import remote as ops

    out = output(json, quiet)
    with open_repo() as repo:
        found = ops.list_remotes(repo)
    if out.json:
        out.emit_json([r.to_dict() for r in found])
        return
    if not found:
        out.line("no remotes (add one: dvlin remote add origin URL)")
    for r in found:
        out.line(f"{r.name}\t{r.url}" + ("\t(default)" if r.default else ""))


@remote_app.command("remove")
def remote_remove(
    name: str = typer.Argument(..., help="The remote to remove."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Remove a remote from the config (the remote itself is not touched)."""
    from dvlin.ops import remote as ops

    out = output(json, quiet)
    with open_repo() as repo:
        info = ops.remove(repo, name)
    if out.json:
        out.emit_json(info.to_dict())
        return
    out.line(f"removed remote {info.name}")


@remote_app.command("show")
def remote_show(
    name: str = typer.Argument(None, help="The remote (default: the default remote)."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """What a remote holds, and what this clone has not pushed or not pulled yet."""
    from dvlin.ops import remote as ops

    out = output(json, quiet)
    with open_repo() as repo:
        info = ops.show(repo, name)
    if out.json:
        out.emit_json(info.to_dict())
        return
    out.line(f"remote {info.name}: {info.url}" + (" (default)" if info.default else ""))
    held = ", ".join(f"{n:,} {k}" for k, n in sorted(info.holds.items()) if n)
    out.line(f"  holds: {held or 'nothing yet'}")
    for asset, number in sorted(info.heads.items()):
        extra = []
        if info.unpushed.get(asset):
            extra.append(f"{info.unpushed[asset]} not pushed")
        if info.behind.get(asset):
            extra.append(f"{info.behind[asset]} not pulled")
        out.line(f"  {asset}@v{number}" + (f"  ({', '.join(extra)})" if extra else ""))
    for group, prefix in sorted(info.no_access.items()):
        out.line(f"  no access: storage group {group} ({prefix} refused)")
    for asset, n in sorted(info.unpushed.items()):
        if asset not in info.heads:
            out.line(f"  {asset}: {plural(n, 'version')} not pushed")


@app.command()
def push(
    refs: list[str] = typer.Argument(None, help="Assets or versions (default: everything)."),
    remote: str = REMOTE,
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Send versions, their objects and all catalog records to a remote."""
    from dvlin.ops.push import push as do_push

    out = output(json, quiet)
    with open_repo() as repo:
        result = do_push(repo, refs or (), remote=remote, progress=out.progress())
    if out.json:
        out.emit_json(result.to_dict())
        return
    if result.up_to_date:
        out.line(f"{result.remote} is up to date")
        return
    records = ", ".join(f"{n:,} {k}" for k, n in sorted(result.records.items()))
    out.line(
        f"pushed to {result.remote}: {plural(len(result.versions), 'version')}, "
        f"{plural(result.objects, 'object')} in {plural(result.files, 'file')} "
        f"({human_bytes(result.bytes)}); records: {records}"
    )
    for label in result.versions[:20]:
        out.line(f"  + {label}")


def _fetch_lines(out, result) -> None:  # type: ignore[no-untyped-def]
    out.line(
        f"fetched from {result.remote}: {plural(len(result.versions), 'new version')}, "
        f"{plural(result.records, 'record')}"
        + (
            f", {plural(result.objects, 'object')} ({human_bytes(result.bytes)})"
            if result.objects
            else ""
        )
    )
    for label in result.versions[:20]:
        out.line(f"  + {label}")
    for group, prefix in sorted(result.no_access.items()):
        out.line(f"  no access: storage group {group} ({prefix} refused); its assets are skipped")
    for name in result.tag_conflicts:
        out.line(f"  ! tag {name} names another version on the remote (left as it is here)")


def _diverged(result) -> None:  # type: ignore[no-untyped-def]
    if result.diverged:
        raise ConflictError(
            f"{', '.join(result.diverged)}: local and remote histories diverged; "
            "nothing changed for them",
            hint="`dvlin pull --rebase` replays this clone's versions on top of the remote's",
            paths=result.diverged,
        )


@app.command()
def fetch(
    remote: str = typer.Argument(None, help="The remote (default: the default remote)."),
    all: bool = typer.Option(False, "--all", help="Also fetch the objects of every version."),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Bring a remote's new versions and records into the catalog; the workspace is untouched."""
    from dvlin.ops.fetch import fetch as do_fetch

    out = output(json, quiet)
    with open_repo() as repo:
        result = do_fetch(repo, remote=remote, all=all, progress=out.progress())
    if out.json:
        out.emit_json(result.to_dict())
    else:
        _fetch_lines(out, result)
    _diverged(result)


@app.command()
def pull(
    remote: str = typer.Argument(None, help="The remote (default: the default remote)."),
    rebase: bool = typer.Option(
        False, "--rebase", help="Replay unpushed versions of diverged assets on the remote head."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Fetch, then fast-forward each asset's folder that was clean at the previous head."""
    from dvlin.ops.pull import pull as do_pull

    out = output(json, quiet)
    with open_repo() as repo:
        result = do_pull(repo, remote=remote, rebase=rebase, progress=out.progress())
    if out.json:
        out.emit_json(result.to_dict())
    else:
        _fetch_lines(out, result.fetch)
        for label in result.updated:
            out.line(f"  checked out {label}")
        for r in result.rebased:
            new = ", ".join(r["new"]) or "nothing left to replay"
            out.line(f"  rebased {r['asset']} onto {r['onto']}: {new}")
        for asset, why in sorted(result.skipped.items()):
            out.line(f"  left {asset} alone: {why}")
    _diverged(result.fetch)


@app.command()
def clone(
    url: str = typer.Argument(..., help="The remote's URL."),
    dest: str = typer.Argument(None, help="The new repo's folder (default: the URL's last part)."),
    option: list[str] = OPTION,
    no_checkout: bool = typer.Option(
        False, "--no-checkout", help="Fetch only the catalog; check out nothing."
    ),
    json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Make a new repo from a remote: catalog rebuilt, each asset's head checked out."""
    from dvlin.ops.clone import clone as do_clone

    out = output(json, quiet)
    result = do_clone(
        url, dest, options=_options(option), no_checkout=no_checkout, progress=out.progress()
    )
    if out.json:
        out.emit_json(result.to_dict())
        return
    out.line(
        f"cloned {url} into {result.root}: {plural(len(result.fetch.versions), 'version')}, "
        f"{plural(result.fetch.records, 'record')}"
    )
    for label in result.checked_out:
        out.line(f"  checked out {label}")
    for group, prefix in sorted(result.fetch.no_access.items()):
        out.line(f"  no access: storage group {group} ({prefix} refused); its assets are skipped")
