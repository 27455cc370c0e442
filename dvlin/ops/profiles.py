"""Profiles of versions and of the workspace: computed once, stored as objects, found again.

A version committed with profiles names each file's profile object in ``info["files"][path]
["profile"]``. Versions from before, and files whose profile is missing, are profiled on first
use; the profile object then goes into the store, is linked to the version (so gc keeps it as
long as the version) and is indexed by the file's content in the catalog's ``profiles`` table,
so the same bytes are never profiled twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dvlin.objects import manifest as manifests
from dvlin.objects.store import StoredObject

if TYPE_CHECKING:
    from dvlin.catalog import Version
    from dvlin.objects.manifest import Entry, Manifest
    from dvlin.policy.config import AssetPolicy
    from dvlin.policy.results import RuleResult
    from dvlin.repo import Repo

_CACHE_SIZE = 64
_recent: OrderedDict[tuple[str, int, int, int], dict[str, Any]] = OrderedDict()
"""Profiles of workspace files computed in this process, by (path, size, mtime, inode): a
commit's drift check and the commit itself read each file once."""


def profile_format(path: str) -> str | None:
    """The format a profile is computed for (a table format, or ``npy``); None: not profiled."""
    from dvlin.inspect.tables import table_format

    if path.lower().endswith(".npy"):
        return "npy"
    return table_format(path)


def profiled_entries(manifest: Manifest, prefix: str | None = None) -> list[Entry]:
    """The files (at or under ``prefix``) a profile is kept for, sorted by path.

    Found on the manifest's columns (by suffix), so only those files become Python objects.
    """
    if len(manifest) < manifests.SMALL:
        from dvlin.ops.stats import within

        return [
            e
            for e in manifest.entries()
            if e.type == "file" and profile_format(e.path) and within(e.path, prefix)
        ]
    import pyarrow.compute as pc

    from dvlin.inspect.tables import TABLE_SUFFIXES
    from dvlin.objects import columns

    files = manifest.within(prefix, ("file",))
    candidates = columns.suffixed(files.paths(), [*TABLE_SUFFIXES, ".npy"])
    found = files.filter(pc.is_in(files.paths(), value_set=candidates))
    return [e for e in found.entries() if profile_format(e.path)]


def encode(profile: dict[str, Any]) -> bytes:
    """A profile's canonical bytes (sorted keys, compact), so equal profiles share an object."""
    return json.dumps(profile, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def profile_local(abs_path: str, path: str) -> dict[str, Any] | None:
    """Profile a file on disk, reusing this process's result while the file is unchanged."""
    from dvlin.inspect.profile import profile_file

    try:
        st = os.stat(abs_path)
    except OSError:
        return None
    key = (abs_path, st.st_size, st.st_mtime_ns, st.st_ino)
    found = _recent.get(key)
    if found is None:
        found = profile_file(abs_path, path)
        if found is None:
            return None
        _recent[key] = found
        while len(_recent) > _CACHE_SIZE:
            _recent.popitem(last=False)
    return found


def load_profile(repo: Repo, oid: str) -> dict[str, Any] | None:
    """A stored profile, or None when its object is gone or unreadable (it is then recomputed)."""
    from dvlin.inspect.profile import PROFILER
    from dvlin.objects.store import ObjectError

    try:
        doc: dict[str, Any] = json.loads(repo.store.get(oid))
    except (ObjectError, ValueError, OSError):
        return None
    return doc if doc.get("profiler") == PROFILER else None


def commit_profiles(
    repo: Repo, base_abs: str, info: dict[str, Any], *, oids: dict[str, str]
) -> list[StoredObject]:
    """Profile the table and array files of a version being committed; objects go to the store.

    Fills ``info["files"][path]["profile"]`` (reusing the parent's, or any stored profile of the
    same bytes) and returns every profile object the version needs, for its object links.
    ``oids`` maps each described path to its file oid.
    """
    from dvlin.catalog.profiles import ProfileIndex
    from dvlin.inspect.profile import PROFILER

    files: dict[str, dict[str, Any]] = info.get("files", {})
    todo = {p: profile_format(p) for p in files if "profile" not in files[p] and p in oids}
    known = ProfileIndex(repo.catalog).find(
        ((oids[p], fmt) for p, fmt in todo.items() if fmt), PROFILER
    )
    out: dict[str, StoredObject] = {}
    for path, fmt in sorted(todo.items()):
        if fmt is None:
            continue
        oid = known.get((oids[path], fmt))
        if oid is None or not repo.store.has(oid):
            profile = profile_local(os.path.join(base_abs, path), path)
            if profile is None:
                continue
            data = encode(profile)
            oid = repo.store.put(data)
            out[oid] = StoredObject(oid, len(data), None, None)
        files[path] = {**files[path], "profile": oid}
    for meta in files.values():
        oid = meta.get("profile")
        if oid and oid not in out:
            found = repo.catalog.find_object(oid)
            out[oid] = found or StoredObject(oid, 0, None, None)
    return list(out.values())


def version_profiles(
    repo: Repo, version: Version, *, paths: Sequence[str] | None = None, save: bool = True
) -> dict[str, dict[str, Any]]:
    """The profile of every table and array file of ``version`` (or of ``paths`` only).

    Missing profiles are computed from the stored bytes and, with ``save``, stored for next
    time (``dvlin check`` and a refused commit write nothing, so they pass ``save=False``).
    """
    from dvlin.catalog.profiles import ProfileIndex
    from dvlin.inspect.profile import PROFILER
    from dvlin.ops.manifests import load_manifest

    wanted = profiled_entries(load_manifest(repo, version))
    if paths is not None:
        chosen = set(paths)
        wanted = [e for e in wanted if e.path in chosen]
    stored: Mapping[str, Any] = version.info.files
    out: dict[str, dict[str, Any]] = {}
    missing: list[Entry] = []
    for e in wanted:
        oid = (stored.get(e.path) or {}).get("profile")
        profile = load_profile(repo, oid) if oid else None
        if profile is None:
            missing.append(e)
        else:
            out[e.path] = profile
    if missing:
        known = ProfileIndex(repo.catalog).find(
            ((e.oid or "", profile_format(e.path) or "") for e in missing), PROFILER
        )
        reused: dict[str, str] = {}
        still = []
        for e in missing:
            oid = known.get((e.oid or "", profile_format(e.path) or ""))
            profile = load_profile(repo, oid) if oid else None
            if profile is None or oid is None:
                still.append(e)
            else:
                out[e.path] = profile
                reused[e.path] = oid
        if reused:
            done = ProfileIndex(repo.catalog).linked(version.id, reused.values())
            reused = {p: oid for p, oid in reused.items() if oid not in done}
        computed = _compute(repo, still, save=save) if still else {}
        out.update({p: prof for p, (prof, _) in computed.items()})
        if save:
            _save(repo, version, reused, {p: data for p, (_, data) in computed.items()})
    return dict(sorted(out.items()))


def _compute(
    repo: Repo, entries: list[Entry], *, save: bool
) -> dict[str, tuple[dict[str, Any], bytes]]:
    """Profile files from their stored bytes: path → (profile, its encoding when ``save``)."""
    from dvlin.inspect.profile import profile_file
    from dvlin.workspace.materialize import Writer

    out: dict[str, tuple[dict[str, Any], bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="dvlin-profile-") as tmp:
        writer = Writer(repo.store, tmp, link="copy")
        for i, e in enumerate(entries):
            # Flat names: the manifest's folders need not exist under the temporary root.
            flat = e._replace(path=f"{i}{os.path.splitext(e.path)[1]}")
            writer.write_one(flat)
            full = os.path.join(tmp, flat.path)
            profile = profile_file(full, e.path)
            os.unlink(full)
            if profile is not None:
                out[e.path] = (profile, encode(profile) if save else b"")
    return out


def _save(repo: Repo, version: Version, reused: dict[str, str], new: dict[str, bytes]) -> None:
    """Store new profile objects, index them by content, link every profile to the version
    and write one audit entry — under the repo lock, so gc cannot take an object between its
    write and its link, in one catalog transaction.
    """
    from dvlin.catalog.profiles import ProfileIndex
    from dvlin.identity import utc_now
    from dvlin.inspect.profile import PROFILER
    from dvlin.ops.manifests import load_manifest

    if not (reused or new):
        return
    manifest = load_manifest(repo, version)
    with repo.lock():
        objects = []
        rows = []
        linked = dict(reused)
        for path, data in new.items():
            oid = repo.store.put(data)
            objects.append(StoredObject(oid, len(data), None, None))
            entry = manifest.get(path)
            rows.append(((entry.oid if entry else None) or "", profile_format(path) or "", oid))
            linked[path] = oid
        repo.store.sync()  # objects are durable before the catalog references them
        catalog = repo.catalog
        with repo.change("profile", version.label) as tx:
            catalog.add_objects(objects)
            catalog.link_version_objects(version.id, set(linked.values()))
            ProfileIndex(catalog).record(rows, PROFILER, created_at=utc_now())
            tx.audit(
                details={"id": version.id, "profiles": dict(sorted(linked.items()))},
            )


def drift_check(
    repo: Repo, policy: AssetPolicy, base_abs: str, files: Sequence[tuple[str, int]]
) -> list[RuleResult]:
    """Check an asset's drift rules: the files about to be committed against its latest version."""
    from dvlin.policy.config import load_policy
    from dvlin.policy.drift import drift_results, parse_thresholds
    from dvlin.policy.results import passed

    assert policy.drift is not None
    parent = repo.catalog.latest_version(policy.name)
    if parent is None:
        return [passed("drift", "drift rules vs the parent version", "no earlier version")]
    after = {}
    for path, _ in files:
        if profile_format(path):
            profile = profile_local(os.path.join(base_abs, path), path)
            if profile is not None:
                after[path] = profile
    before = version_profiles(repo, parent, save=False)
    before, after = as_whole_if_renamed(before, after)
    thresholds = parse_thresholds(load_policy(repo.root).drift)
    return drift_results(policy.drift, before, after, against=parent.label, thresholds=thresholds)


def as_whole_if_renamed(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """When no table file keeps its name (a dataset rewritten under new part names), replace
    them on both sides by one merged profile, so drift is judged on the tables as a whole."""
    from dvlin.inspect.merge import ALL_TABLES, merge_profiles

    tables_a = sorted(p for p, prof in before.items() if "columns" in prof)
    tables_b = sorted(p for p, prof in after.items() if "columns" in prof)
    if set(tables_a) & set(tables_b) or not tables_a or not tables_b:
        return before, after
    whole_a = {p: v for p, v in before.items() if p not in tables_a}
    whole_b = {p: v for p, v in after.items() if p not in tables_b}
    whole_a[ALL_TABLES] = merge_profiles([before[p] for p in tables_a])
    whole_b[ALL_TABLES] = merge_profiles([after[p] for p in tables_b])
    return whole_a, whole_b
