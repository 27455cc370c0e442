"""A remote as one clone sees it: refs, cached record segments, and object transfers.

Objects go up before the records that reference them. Small objects travel in packs (one
request per pack instead of one per object); a reader fetches byte ranges of a pack, merging
neighbouring ranges into one request. Every byte read back is verified against its oid before
it is stored locally.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvlin.objects.hashing import MalformedIdError, Oid, hash_bytes, parse_oid
from dvlin.progress import NullProgress, Progress
from dvlin.remote.errors import RemoteCorruptError, RemoteFormatError
from dvlin.remote.layout import (
    REFS,
    object_path,
    pack_path,
    parse_segment_ref,
    segment_path,
    segment_ref,
)
from dvlin.remote.refs import Refs
from dvlin.remote.segments import Location, Segment
from dvlin.remote.transport import Transport
from dvlin.values import sealed

# Objects below this size are packed; packs close at PACK_TARGET (restic uses 16 MiB, kopia
# 20 MiB: large enough that 20,000 small files are one or two requests, small enough that a
# killed push re-sends little).
PACK_BELOW = 8 << 20
PACK_TARGET = 32 << 20
# Ranges of one pack closer than this are fetched in one request.
MERGE_GAP = 1 << 20
WORKERS = 8


@sealed
@dataclass(frozen=True, slots=True)
class Upload:
    """One file to upload: a pack of several objects, or one large object."""

    file: str
    members: tuple[tuple[Oid, int, int], ...]
    """``(oid, offset, size)`` of each object in the file."""
    group: str | None = None


class RemoteStore:
    """One remote: its transport, its hash algorithm, and this clone's cache of it.

    Args:
        name: the remote's name in the config (used in messages and the cache folder).
        transport: how its files are read and written.
        algorithm: this repo's hash algorithm; the remote must use the same.
        cache: a local folder for segments (immutable, so cached forever) and the upload
            journal that lets an interrupted push resume.
    """

    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        algorithm: str,
        cache: Path,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.algorithm = algorithm
        self.cache = cache
        self.options = dict(options or {})
        """Filesystem options, also used for stores that keep storage groups."""
        self.groups: dict[str, str] = {}

    @property
    def url(self) -> str:
        """The remote's URL."""
        return self.transport.url

    # -- refs and segments ------------------------------------------------------------------

    def read_refs(self) -> tuple[Refs, str] | None:
        """The remote's refs and the CAS token, or None for an empty remote."""
        found = self.transport.read_ref(REFS)
        if found is None:
            return None
        data, token = found
        refs = Refs.parse(data, url=self.url)
        self.route_groups(refs.groups)
        if refs.hash != self.algorithm:
            raise RemoteFormatError(
                f"remote {self.url} uses hash {refs.hash}, this repo uses {self.algorithm}",
                hint="objects cannot be shared across algorithms; `dvlin clone` the remote into "
                "a new folder instead",
            )
        return refs, token

    def route_groups(self, groups: dict[str, str]) -> None:
        """Send storage groups kept in other stores (other buckets) to those stores."""
        for group, url in groups.items():
            if group not in self.groups:
                self.groups[group] = url
                self.transport.route(group, Transport.open(url, self.options))

    def swap_refs(self, refs: Refs, token: str | None) -> bool:
        """Move the refs by compare-and-swap; False when another push got there first."""
        return self.transport.swap_ref(REFS, refs.to_bytes(), token)

    def read_segment(self, ref: str) -> Segment:
        """A segment named in refs (``SID`` or ``GROUP:SID``), from the cache or the remote."""
        group, sid = parse_segment_ref(ref)
        cached = self.cache / "segments" / sid
        try:
            data = cached.read_bytes()
        except FileNotFoundError:
            fetched = self.transport.get(segment_path(sid, group))
            if fetched is None:
                raise RemoteCorruptError(
                    f"remote {self.url}: record segment {sid} named in refs.json is missing",
                    hint="restore it from the store's versioning or a backup",
                ) from None
            segment = Segment.decode(sid, fetched, algorithm=self.algorithm, url=self.url)
            _write_atomic(cached, fetched)
            return segment
        return Segment.decode(sid, data, algorithm=self.algorithm, url=self.url)

    def write_segment(self, segment: Segment, group: str | None = None) -> str:
        """Upload a segment (create-only) and cache it; returns how refs name it."""
        sid, data = segment.encode(self.algorithm)
        self.transport.put_new(segment_path(sid, group), data)
        _write_atomic(self.cache / "segments" / sid, data)
        return segment_ref(sid, group)

    # -- uploads ----------------------------------------------------------------------------

    def plan(self, sizes: dict[Oid, int], group: str | None = None) -> list[Upload]:
        """Group objects into files: large ones alone, small ones in packs (sorted by oid)."""
        uploads: list[Upload] = []
        members: list[tuple[Oid, int, int]] = []
        filled = 0
        for oid in sorted(sizes):
            size = sizes[oid]
            if size >= PACK_BELOW:
                uploads.append(Upload(object_path(oid, group), ((oid, 0, size),), group))
                continue
            members.append((oid, filled, size))
            filled += size
            if filled >= PACK_TARGET:
                uploads.append(Upload("", tuple(members), group))
                members, filled = [], 0
        if members:
            uploads.append(Upload("", tuple(members), group))
        return uploads

    def upload(
        self,
        uploads: list[Upload],
        read: Callable[[Oid], bytes],
        *,
        progress: Progress | None = None,
    ) -> dict[Oid, Location]:
        """Upload files concurrently; each is journalled as it lands so a rerun skips it."""
        progress = progress or NullProgress()
        locations: dict[Oid, Location] = {}
        total = sum(s for u in uploads for _, _, s in u.members)
        progress.start(
            f"pushing to {self.name}", files=sum(len(u.members) for u in uploads), bytes=total
        )

        journal_lock = threading.Lock()

        def send(upload: Upload) -> dict[Oid, Location]:
            parts = [read(oid) for oid, _, _ in upload.members]
            data = parts[0] if len(parts) == 1 and upload.file else b"".join(parts)
            file = upload.file or pack_path(hash_bytes(self.algorithm, data), upload.group)
            self.transport.put_new(file, data)
            done = {oid: Location(file, off, size) for oid, off, size in upload.members}
            # Journalled the moment it lands, not when its turn in the queue comes: a kill
            # then costs at most the files still in flight, never ones already up.
            with journal_lock:
                self._journal(done)
            return done

        def finish(future: Future[dict[Oid, Location]]) -> None:
            done = future.result()
            locations.update(done)
            progress.advance(files=len(done), bytes=sum(x.size for x in done.values()))

        try:
            with ThreadPoolExecutor(min(WORKERS, max(1, len(uploads)))) as pool:
                # Each upload reads its pack into memory: keep only a window of them in flight.
                pending: deque[Future[dict[Oid, Location]]] = deque()
                for upload in uploads:
                    pending.append(pool.submit(send, upload))
                    if len(pending) >= WORKERS:
                        finish(pending.popleft())
                while pending:
                    finish(pending.popleft())
        finally:
            progress.finish()
        return locations

    def journalled(self) -> dict[Oid, Location]:
        """Objects an earlier, interrupted push uploaded (their files are immutable)."""
        path = self.cache / "journal"
        found: dict[Oid, Location] = {}
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return found
        for line in lines:
            try:
                oid, file, offset, size = json.loads(line)
                found[parse_oid(str(oid), self.algorithm)] = Location(
                    str(file), int(offset), int(size)
                )
            except (ValueError, TypeError, MalformedIdError):
                continue  # a line torn by a kill: that file is simply sent again
        return found

    def clear_journal(self) -> None:
        """Forget the journal once a push's records reference everything in it."""
        (self.cache / "journal").unlink(missing_ok=True)

    def _journal(self, done: dict[Oid, Location]) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        with open(self.cache / "journal", "a", encoding="utf-8") as f:
            f.write(
                "".join(
                    json.dumps([oid, loc.file, loc.offset, loc.size]) + "\n"
                    for oid, loc in done.items()
                )
            )
            f.flush()
            os.fsync(f.fileno())

    # -- downloads --------------------------------------------------------------------------

    def download(
        self,
        wanted: dict[Oid, Location],
        *,
        progress: Progress | None = None,
    ) -> Iterator[tuple[Oid, bytes]]:
        """Yield ``(oid, bytes)`` for each wanted object, verified against its oid.

        Raises:
            RemoteCorruptError: bytes that do not hash to their oid, or a missing file.
        """
        progress = progress or NullProgress()
        progress.start(
            f"fetching from {self.name}",
            files=len(wanted),
            bytes=sum(x.size for x in wanted.values()),
        )
        try:
            with ThreadPoolExecutor(WORKERS) as pool:
                # A bounded window of requests in flight, so memory stays at a few packs
                # however much is fetched.
                pending: deque[Future[list[tuple[Oid, bytes]]]] = deque()
                for job in _merged_ranges(wanted):
                    pending.append(pool.submit(self._fetch_range, job))
                    if len(pending) >= 2 * WORKERS:
                        yield from self._drain(pending.popleft(), progress)
                while pending:
                    yield from self._drain(pending.popleft(), progress)
        finally:
            progress.finish()

    @staticmethod
    def _drain(
        future: Future[list[tuple[Oid, bytes]]], progress: Progress
    ) -> Iterator[tuple[Oid, bytes]]:
        for oid, data in future.result():
            progress.advance(files=1, bytes=len(data))
            yield oid, data

    def _fetch_range(
        self, job: tuple[str, int, int, list[tuple[Oid, Location]]]
    ) -> list[tuple[Oid, bytes]]:
        file, start, end, members = job
        try:
            blob = self.transport.get_range(file, start, end)
        except FileNotFoundError:
            raise RemoteCorruptError(
                f"remote {self.url}: {file} is missing",
                hint="the remote lost an object its records reference; push it again from a "
                "clone that has it",
            ) from None
        out = []
        for oid, loc in members:
            data = blob[loc.offset - start : loc.offset - start + loc.size]
            found = hash_bytes(self.algorithm, data)
            if found != oid:
                raise RemoteCorruptError(
                    f"remote {self.url}: object {oid} in {file} is corrupt (its bytes hash to "
                    f"{found})",
                    hint="nothing was written locally; push the object again from a clone "
                    "that has it",
                )
            out.append((oid, data))
        return out


def _merged_ranges(
    wanted: dict[Oid, Location],
) -> Iterable[tuple[str, int, int, list[tuple[Oid, Location]]]]:
    by_file: dict[str, list[tuple[Oid, Location]]] = {}
    for oid, loc in wanted.items():
        by_file.setdefault(loc.file, []).append((oid, loc))
    for file, members in sorted(by_file.items()):
        members.sort(key=lambda m: m[1].offset)
        group: list[tuple[Oid, Location]] = []
        start = end = 0
        for oid, loc in members:
            if group and loc.offset - end > MERGE_GAP:
                yield file, start, end, group
                group = []
            if not group:
                start = loc.offset
                end = loc.offset
            group.append((oid, loc))
            end = max(end, loc.offset + loc.size)
        if group:
            yield file, start, end, group


def _write_atomic(path: Path, data: bytes) -> None:
    import uuid

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
