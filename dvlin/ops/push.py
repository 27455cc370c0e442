"""``dvlin push``: send versions, their objects and every catalog record to a remote.

Order: objects (packed, journalled so a rerun skips what landed), then one immutable record
segment, then ``refs.json`` by compare-and-swap. A push that loses the swap re-reads the refs;
if an asset it pushes moved on the remote in the meantime it stops (exit 5, pull first),
otherwise it tries again on top of the other push, so concurrent pushes all land.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.catalog.remotes import RemoteState, Row, record_key
from dvlin.errors import ConflictError, IntegrityError
from dvlin.faults import BEFORE_REFS, pause_point
from dvlin.identity import utc_now
from dvlin.ids import Oid
from dvlin.objects.store import ObjectError
from dvlin.ops.refs import resolve
from dvlin.ops.remote import open_remote, refresh
from dvlin.progress import Progress
from dvlin.remote.errors import HeadMovedError
from dvlin.remote.layout import group_prefix, in_group
from dvlin.remote.plan import next_refs, push_plan, split_by_group
from dvlin.remote.refs import Refs
from dvlin.remote.segments import KINDS, Location, Segment
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.remote.store import RemoteStore
    from dvlin.repo import Repo

_ATTEMPTS = 20


@sealed
@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push sent."""

    remote: str
    url: str
    up_to_date: bool
    versions: tuple[str, ...] = ()
    """Labels (``asset@vN``) of the versions pushed."""
    records: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    files: int = 0
    bytes: int = 0
    segment: str | None = None
    requests: int = 0
    retries: int = 0
    resumed: int = 0
    """Objects an interrupted push had uploaded already (not sent again)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "remote": self.remote,
            "url": self.url,
            "up_to_date": self.up_to_date,
            "versions": list(self.versions),
            "records": dict(self.records),
            "objects": self.objects,
            "files": self.files,
            "bytes": self.bytes,
            "segment": self.segment,
            "requests": self.requests,
            "retries": self.retries,
            "resumed": self.resumed,
        }


def _selected_versions(repo: Repo, refs: Sequence[str], local: dict[str, Row]) -> set[str]:
    """Ids of the local versions a push of ``refs`` covers (all when empty)."""
    if not refs:
        return set(local)
    chosen: set[str] = set()
    for ref in refs:
        v = resolve(repo, ref)
        chosen |= {
            vid
            for vid, row in local.items()
            if row["asset"] == v.asset and row["number"] <= v.number
        }
    return chosen


def _check(
    repo: Repo, remote: RemoteStore, refs: Refs | None, plan: dict[str, list[Row]], clone: str
) -> None:
    """Refuse a push whose assets moved on the remote, a tag clash, or a diverged audit chain."""
    if refs is None:
        return
    catalog = repo.catalog
    moved = []
    for row in plan.get("version", ()):
        head = refs.heads.get(row["asset"])
        if head is None:
            continue
        # Local history is linear, so the remote head is an ancestor exactly when this
        # clone has it: then the pushed versions continue it.
        mine = catalog.version(head.version)
        if mine is None or mine.asset != row["asset"]:
            moved.append(row["asset"])
    if moved:
        names = sorted(set(moved))
        raise HeadMovedError(
            f"remote {remote.name} has versions of {', '.join(names)} that this clone lacks; "
            "nothing was pushed for them",
            hint=f"run `dvlin pull --rebase {remote.name}` (replays your versions on top of "
            "the remote's), then push again",
            assets=names,
        )
    held_tags = RemoteState(catalog).records(remote.name, "tag")
    for row in plan.get("tag", ()):
        other = held_tags.get(record_key("tag", row))
        if other is not None and other != row["version"]:
            raise ConflictError(
                f"tag {row['asset']}@{row['name']} is on another version on remote "
                f"{remote.name}; tags never move",
                hint="pull, then tag this version under another name",
            )
    chain = refs.clones.get(clone)
    if chain is not None:
        seq, digest = chain
        if RemoteState(catalog).audit_hash(seq) != digest:
            raise ConflictError(
                f"remote {remote.name} holds an audit chain for this clone ({clone[:12]}) that "
                f"this catalog does not continue (entry {seq})",
                hint="the catalog was restored from an older copy or edited; `dvlin audit "
                "verify` and compare with the remote before pushing",
            )


def push(
    repo: Repo,
    refs: Sequence[str] = (),
    *,
    remote: str | None = None,
    progress: Progress | None = None,
) -> PushResult:
    """Push ``refs`` (asset names or versions; everything when empty) to ``remote``.

    Raises:
        HeadMovedError: an asset's head moved on the remote (exit 5; pull first).
        ConflictError: a tag clash or a diverged audit chain.
        IntegrityError: an object a pushed version needs is neither local nor on the remote.
    """
    store = open_remote(repo, remote)
    clone = repo.config.repo_id
    with repo.lock():
        state = RemoteState(repo.catalog)
        local = state.local_records(clone)
        selected = _selected_versions(repo, refs, local["version"]) if refs else None
        groups = _groups(repo)
        uploaded: dict[str | None, dict[Oid, Location]] = {}
        objects_sent = files_sent = bytes_sent = resumed = 0
        gone: set[str] = set()  # files remote gc deleted while this push ran
        for attempt in range(_ATTEMPTS):
            view = refresh(repo, store)
            gone |= {row["file"] for _, seg in view.new for row in seg.records.get("gc", ())}
            held = {kind: state.records(store.name, kind) for kind in KINDS}
            plan = push_plan(held, local, selected)
            if not plan:
                return PushResult(
                    store.name, store.url, True, requests=store.transport.requests, retries=attempt
                )
            _check(repo, store, view.refs, plan, clone)
            parts = split_by_group(plan, groups, local["version"])
            # Remote gc may have deleted objects this push counted on: look again.
            if attempt == 0 or any(seg.records.get("gc") for _, seg in view.new):
                uploaded = {}
                sent: dict[Oid, Location] = {}
                for group, part in parts.items():
                    got, new_sent = _send_objects(
                        repo, store, state, part, progress, group, gone=gone
                    )
                    uploaded[group], sent = got, {**sent, **new_sent}
                resumed = sum(len(u) for u in uploaded.values()) - len(sent)
                objects_sent += len(sent)
                files_sent += len({loc.file for loc in sent.values()})
                bytes_sent += sum(loc.size for loc in sent.values())
            written = [
                (
                    store.write_segment(
                        Segment(clone, utc_now(), part, uploaded.get(group, {})), group
                    ),
                    group,
                    part,
                )
                for group, part in sorted(parts.items(), key=lambda g: g[0] or "")
            ]
            pause_point(BEFORE_REFS)
            new_refs = next_refs(
                repo.config.hash,
                view.refs,
                plan,
                [sid for sid, _, _ in written],
                clone,
                store.groups,
                chunker=repo.config.chunker,
            )
            if store.swap_refs(new_refs, view.token):
                # What the remote now holds: bookkeeping, no record of this catalog changed.
                with repo.change("push", store.name) as tx, tx.unaudited():
                    for sid, group, part in written:
                        state.add_segment(
                            store.name,
                            sid,
                            part,
                            {
                                o: (x.file, x.offset, x.size)
                                for o, x in uploaded.get(group, {}).items()
                            },
                            applied=True,
                        )
                store.clear_journal()
                labels = tuple(f"{r['asset']}@v{r['number']}" for r in plan.get("version", ()))
                return PushResult(
                    store.name,
                    store.url,
                    False,
                    versions=labels,
                    records={k: len(v) for k, v in plan.items()},
                    objects=objects_sent,
                    files=files_sent,
                    bytes=bytes_sent,
                    segment=written[-1][0],
                    requests=store.transport.requests,
                    retries=attempt,
                    resumed=resumed,
                )
        raise ConflictError(
            f"remote {store.name} kept changing; gave up after {_ATTEMPTS} attempts",
            hint="push again",
        )


def _send_objects(
    repo: Repo,
    store: RemoteStore,
    state: RemoteState,
    plan: dict[str, list[Row]],
    progress: Progress | None,
    group: str | None = None,
    *,
    gone: set[str] | frozenset[str] = frozenset(),
) -> tuple[dict[Oid, Location], dict[Oid, Location]]:
    """Upload the objects the pushed versions need that the remote lacks.

    Returns every location the segment must index (including what an interrupted push
    already uploaded, from the journal) and the part this call sent.
    """
    expired = {r["version"] for r in plan.get("expiry", ())}
    owners: dict[Oid, str] = {}
    for row in plan.get("version", ()):
        if row["id"] in expired:
            continue  # its bytes are gone by retention; the record travels alone
        for oid in row.get("storage", ()):
            owners.setdefault(Oid(oid), f"{row['asset']}@v{row['number']}")
    # Dedup stops at storage groups: only a copy inside this group's prefix counts.
    held = state.locations(store.name, owners, prefix=group_prefix(group))
    journal = store.journalled()
    found = {
        o: loc
        for o, loc in journal.items()
        if o in owners and o not in held and in_group(loc.file, group) and loc.file not in gone
    }
    # An interrupted push's files: still there unless remote gc took them as orphans.
    present = {f for f in {loc.file for loc in found.values()} if store.transport.exists(f)}
    found = {o: loc for o, loc in found.items() if loc.file in present}
    wanted = [o for o in owners if o not in held and o not in found]
    known = repo.catalog.find_objects(wanted)
    sizes: dict[Oid, int] = {}
    for oid in wanted:
        obj = known.get(oid)
        if obj is None or not repo.store.has(oid):
            raise IntegrityError(
                f"object {oid} of {owners[oid]} is neither in this clone nor on remote "
                f"{store.name}",
                hint="fetch it from the remote that has it (`dvlin fetch --all`), or push "
                "from the clone that made it",
            )
        sizes[oid] = obj.size

    def read(oid: Oid) -> bytes:
        try:
            return repo.store.get(oid)
        except ObjectError as exc:
            from dvlin.ops.manifests import with_versions

            raise with_versions(repo, exc) from None

    sent = store.upload(store.plan(sizes, group), read, progress=progress)
    return {**found, **sent}, sent


def _groups(repo: Repo) -> dict[str, str]:
    """Asset → storage group, from ``dvlin.toml``."""
    from dvlin.policy.config import load_policy

    policy = load_policy(repo.root)
    return {name: a.storage_group for name, a in policy.assets.items() if a.storage_group}
