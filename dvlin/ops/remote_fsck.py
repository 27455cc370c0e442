"""``dvlin fsck --remote NAME``: verify everything a remote's records reference.

Reads ``refs.json`` and every segment (each verified against its name), lists the remote's
files (besides gc, the only listing), and reads back every indexed object, verifying it
against its oid. Reports missing and corrupt files and counts unreferenced ones; changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dvlin.ops.fsck import Problem
from dvlin.ops.remote import open_remote
from dvlin.ops.remote_gc import list_remote_files
from dvlin.progress import NullProgress, Progress
from dvlin.remote.errors import RemoteCorruptError
from dvlin.remote.layout import parse_segment_ref, segment_path
from dvlin.remote.segments import Location
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.ids import Oid
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class RemoteFsckReport:
    """What ``fsck --remote`` checked and found."""

    remote: str
    segments: int
    files: int
    objects: int
    bytes: int
    unreferenced: int
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every referenced file is there and whole."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "ok": self.ok,
            "remote": self.remote,
            "segments": self.segments,
            "files": self.files,
            "objects": self.objects,
            "bytes": self.bytes,
            "unreferenced": self.unreferenced,
            "problems": [p.to_dict() for p in self.problems],
        }


def fsck_remote(
    repo: Repo, name: str | None, *, progress: Progress | None = None
) -> RemoteFsckReport:
    """Verify a remote's segments and every object they index."""
    progress = progress or NullProgress()
    store = open_remote(repo, name)
    found = store.read_refs()
    if found is None:
        return RemoteFsckReport(store.name, 0, 0, 0, 0, 0)
    refs, _ = found
    problems: list[Problem] = []
    index: dict[Oid, Location] = {}
    labels: dict[str, str] = {}
    for ref in refs.segments:
        try:
            segment = store.read_segment(ref)
        except RemoteCorruptError as exc:
            problems.append(Problem("segment", parse_segment_ref(ref)[1], (), exc.message))
            continue
        for row in segment.records.get("version", ()):
            for oid in (*row.get("storage", ()), row["manifest"]):
                labels.setdefault(oid, f"{row['asset']}@v{row['number']}")
        index.update(segment.objects)
        for row in segment.records.get("gc", ()):
            index.pop(row["oid"], None)
    listed = list_remote_files(store)
    by_file: dict[str, dict[Oid, Location]] = {}
    for oid, loc in index.items():
        by_file.setdefault(loc.file, {})[oid] = loc
    referenced = set(by_file) | {
        segment_path(sid, group) for group, sid in map(parse_segment_ref, refs.segments)
    }
    progress.start(f"checking {store.name}", files=len(index))
    total = 0
    for file, members in sorted(by_file.items()):
        users = tuple(sorted({labels[o] for o in members if o in labels}))
        if file not in listed:
            problems.append(Problem("missing", None, users, f"{file} is missing"))
            continue
        try:
            for _, data in store.download(members):
                total += len(data)
        except RemoteCorruptError as exc:
            problems.append(Problem("corrupt", None, users, exc.message))
        progress.advance(files=len(members))
    progress.finish()
    return RemoteFsckReport(
        store.name,
        len(refs.segments),
        len(by_file),
        len(index),
        total,
        sum(1 for rel in listed if rel not in referenced),
        tuple(problems),
    )
