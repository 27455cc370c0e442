"""Turn workspace files into stored objects: small files into packs, big ones into chunks.

Sizes were chosen by measurement on the benchmark trees (see docs/benchmarks.md): one file per
small object costs a create, a write and a rename each, which dominates a 20,000-file commit, so
blobs under ``PACK_MAX_BLOB`` are appended to pack objects instead. Files of ``CHUNK_MIN_FILE``
or more are cut by FastCDC so that an edit in the middle stores only the chunks around it.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dvlin.objects.bigfile import cut_file, unreadable
from dvlin.objects.cdc import DEFAULT_CHUNKER, drop_early
from dvlin.objects.hashing import Hasher, Oid, digest_function, hasher_factory
from dvlin.objects.ingest_io import read_batch, write_pack
from dvlin.objects.ingest_rows import (
    NO_PACK,
    PACK_UNNAMED,
    Batch,
    PackSlot,
    Pending,
    Rows,
    manifest_table,
    new_object_rows,
)
from dvlin.objects.manifest import Entry
from dvlin.objects.packs import PackWriter
from dvlin.objects.store import ObjectIndex, ObjectStore, StoredObject

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ObjectIndex", "Ingester", "unreadable"]

PACK_MAX_BLOB = 128 * 1024
PACK_TARGET = 8 * 1024 * 1024
"""Small files' packs close at this size (chunk packs of big files at ``packs.PACK_TARGET``).
The last pack is written and flushed after the last file is read, while nothing else is left to
overlap with it: 8 MiB packs took a 20,000-file first commit from 0.77 s to 0.70 s (median of
five alternated rounds against 32 MiB; 200,000 files: no change). See docs/benchmarks.md."""
CHUNK_MIN_FILE = 8 * 1024 * 1024
_BATCH_FILES = 512
_BATCH_BYTES = 16 * 1024 * 1024
_READS_AHEAD = 2  # batches read ahead of the one being stored


@dataclass(slots=True)
class Ingester:
    """Hash and store files for one commit; :meth:`finish` returns the manifest entries.

    Objects go to the store as they are found; nothing references them until the caller's
    catalog transaction records the version, so an interrupted commit leaves only orphans.
    """

    store: ObjectStore
    catalog: ObjectIndex
    new_bytes: int = 0
    entries: list[Entry] = field(default_factory=list)
    """Files stored whole or in chunks (big files), as entries; small files are in ``_rows``."""
    hashed_tags: list[object] = field(default_factory=list)
    """The tag of every file read and hashed, in the order they were read."""
    hashed_oids: list[Oid] = field(default_factory=list)
    """Their oids (two lists rather than a tuple per file: a million files commit)."""
    catalog_empty: bool = False
    """The catalog knows no object yet (a first commit): skip looking oids up in it."""
    chunker: str = DEFAULT_CHUNKER
    """How big files are cut (the repo's ``core.chunker``, :data:`~dvlin.objects.cdc.CHUNKERS`)."""
    _rows: Rows = field(default_factory=lambda: Rows())
    _first: dict[str, int] = field(default_factory=dict)
    """New blobs of small files while files are added: oid -> the row of ``_rows`` that
    stored it. No :class:`StoredObject` per blob (a million-file commit): their catalog rows
    are taken from the manifest by columns at the end (:meth:`new_object_table`)."""
    _other_new: dict[str, StoredObject] = field(default_factory=dict)
    """Other new objects: packs and the chunks of big files (one per MiB or more)."""
    _new_loose: set[str] = field(default_factory=set)
    """New blobs stored as objects of their own (128 KiB or more: few)."""
    _finished: pa.Table | None = None
    _pack_names: list[Oid] = field(default_factory=list)
    """Packs that rows point at (``_rows.pack`` holds an index into this list)."""
    _pack_ids: dict[str, int] = field(default_factory=dict)
    _slots: list[PackSlot] = field(default_factory=list)
    _member_slot: dict[Oid, PackSlot] = field(default_factory=dict)
    _new_hasher: Callable[[], Hasher] | None = None
    _hash_once: Callable[[bytes], str] | None = None
    on_hashed: Callable[[object, str], None] | None = None
    _batch: list[tuple[str, str, int, int, object]] = field(default_factory=list)
    _batch_bytes: int = 0
    _reading: deque[tuple[Batch, Future[tuple[list[bytes], list[Oid]]]]] = field(
        default_factory=deque
    )
    _threads: ThreadPoolExecutor | None = None
    _packer: PackWriter | None = None
    _in_packs: set[str] = field(default_factory=set)
    _pending_chunks: list[Pending] = field(default_factory=list)
    _looked_up: dict[str, StoredObject | None] = field(default_factory=dict)
    """Oids the last :meth:`look_up` asked the catalog about at once, with its answers (None:
    not known). The catalog does not change during a commit; this commit's own objects are
    looked for first."""

    def _hasher(self) -> Hasher:
        if self._new_hasher is None:
            self._new_hasher = hasher_factory(self.store.algorithm)
        return self._new_hasher()

    def known(self, oid: str) -> StoredObject | None:
        """Where ``oid`` is stored already, by this commit or an earlier one."""
        found = self._known_new(oid)
        if found is not None:
            return found
        if oid in self._looked_up:
            return self._looked_up[oid]
        return self.catalog.find_object(oid)

    def look_up(self, oids: Iterable[str]) -> None:
        """Ask the catalog where ``oids`` are in one query (one per 500), for the calls of
        :meth:`known` that follow: a commit whose stat cache knows the oids of the files it
        takes (say, after a status hashed them) asked once per file. The answers of an
        earlier call are forgotten (a caller looks up a batch at a time)."""
        if self.catalog_empty:
            return
        wanted = set(oids)
        found = self.catalog.find_objects(wanted) if wanted else {}
        self._looked_up = {oid: found.get(oid) for oid in wanted}

    def _known_new(self, oid: str) -> StoredObject | None:
        """Where this commit stored ``oid`` (pack ``""``: in a pack not named yet)."""
        row = self._first.get(oid)
        if row is None:
            return self._other_new.get(oid)
        rows = self._rows
        pack, offset = rows.pack[row], rows.offset[row]
        return StoredObject(
            Oid(oid),
            rows.size[row],
            None
            if pack == NO_PACK
            else Oid("")
            if pack == PACK_UNNAMED
            else self._pack_names[pack],
            None if offset < 0 else offset,
        )

    @property
    def new_objects(self) -> dict[str, StoredObject]:
        """Every object this commit stored, by oid (built on demand: for tests and small
        callers; a commit records :meth:`new_object_table`)."""
        if self._finished is not None:
            return {
                r["oid"]: StoredObject(r["oid"], r["size"], r["pack"], r["offset"])
                for r in self.new_object_table(self._finished).to_pylist()
            }
        found = dict(self._other_new)
        for oid in self._first:  # a pack of one blob: the blob's row stands for both
            obj = self._known_new(oid)
            if obj is not None:
                found[oid] = obj
        return found

    def _pack_id(self, pack: str | None) -> int:
        """The index of ``pack`` in ``_pack_names`` (-1 for None, -2 for a pack not named yet)."""
        if pack is None:
            return NO_PACK
        if not pack:
            return PACK_UNNAMED
        at = self._pack_ids.get(pack)
        if at is None:
            at = self._pack_ids[pack] = len(self._pack_names)
            self._pack_names.append(Oid(pack))
        return at

    def add_known(self, path: str, mode: int, size: int, oid: str) -> bool:
        """Add a file whose oid the stat cache knows; False when its bytes must be read."""
        if size >= CHUNK_MIN_FILE:
            # Chunked files are listed by their chunks, which the stat cache does not keep.
            return False
        found = self.known(oid)
        if found is None:
            return False
        self._add_stored(path, mode, size, found)
        return True

    def _add_stored(self, path: str, mode: int, size: int, found: StoredObject) -> None:
        rows = self._rows
        slot = self._member_slot.get(found.oid)
        if slot is not None:  # in a pack not named yet: finish_table() fills the pack in
            slot.rows.append(len(rows.path))
            rows.add(path, mode, size, found.oid, PACK_UNNAMED, found.offset)
        elif found.oid in self._in_packs:
            # Equal to a chunk whose pack is not closed yet: finish() knows where it is.
            self._pending_chunks.append(Pending(path, mode, size, found.oid))
        elif found.pack is not None:
            rows.add(path, mode, size, found.oid, self._pack_id(found.pack), found.offset)
        else:
            rows.add(path, mode, size, found.oid, NO_PACK, None)

    def add_file(self, abs_path: str, path: str, mode: int, size: int, tag: object = None) -> None:
        """Queue one file to be read, hashed and stored; ``(tag, oid)`` lands in :attr:`hashed`.

        Small files are read in batches so that their oids are looked up in the catalog with
        one query per batch rather than one per file. ``size`` is what the scan saw: the file
        is read to its end whatever it is now.
        """
        if size >= CHUNK_MIN_FILE:
            self._report(tag, self._add_chunked(abs_path, path, mode))
            return
        self._batch.append((abs_path, path, mode, size, tag))
        self._batch_bytes += size
        if len(self._batch) >= _BATCH_FILES or self._batch_bytes >= _BATCH_BYTES:
            self._drain(wait=False)

    def _report(self, tag: object, oid: str) -> None:
        self.hashed_tags.append(tag)
        self.hashed_oids.append(Oid(oid))
        if self.on_hashed is not None:
            self.on_hashed(tag, oid)

    def _drain(self, *, wait: bool = True) -> None:
        """Hand the queued batch to a reader thread; store the batches already read.

        ``os.open``/``os.read`` release the GIL, so the next batches are read while this thread
        does the per-file bookkeeping of the last. ``wait``: store everything queued now.
        """
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        if batch:
            self._reading.append((batch, self._pool().submit(read_batch, batch, self._one_shot())))
        while self._reading and (wait or len(self._reading) > _READS_AHEAD):
            done, future = self._reading.popleft()
            self._store(done, *future.result())

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(_READS_AHEAD + 1, thread_name_prefix="dvlin-ingest")
        return self._threads

    def _store(
        self,
        batch: list[tuple[str, str, int, int, object]],
        datas: list[bytes],
        oids: list[Oid],
    ) -> None:
        """Place a batch read by :meth:`_read`: known objects by reference, new ones in packs."""
        first, other_new = self._first, self._other_new
        stored: Mapping[str, StoredObject] = {}
        if not self.catalog_empty:
            unknown = {oid for oid in oids if oid not in first and oid not in other_new}
            stored = self.catalog.find_objects(unknown) if unknown else {}
        rows = self._rows
        hashed_tags, hashed_oids = self.hashed_tags, self.hashed_oids
        slot = self._open_slot()
        for (_, path, mode, _, tag), data, oid in zip(batch, datas, oids, strict=True):
            size = len(data)
            if oid in first or oid in other_new or oid in stored:
                found = self._known_new(oid) or stored[oid]
                self._add_stored(path, mode, size, found)
            elif size < PACK_MAX_BLOB:
                offset = slot.size
                self._member_slot[oid] = slot
                first[oid] = row = len(rows.path)
                slot.parts.append(data)
                slot.size += size
                slot.rows.append(row)
                # PACK_UNNAMED: the pack is named once it is written (_resolve).
                rows.add(path, mode, size, oid, PACK_UNNAMED, offset)
                if slot.size >= PACK_TARGET:
                    self._flush_pack()
                    slot = self._open_slot()
            else:
                self.store.put_soon(data, oid)
                first[oid] = len(rows.path)
                self._new_loose.add(oid)
                self.new_bytes += size
                rows.add(path, mode, size, oid, NO_PACK, None)
            hashed_tags.append(tag)
            hashed_oids.append(oid)
            if self.on_hashed is not None:
                self.on_hashed(tag, oid)

    def _open_slot(self) -> PackSlot:
        """The pack being filled (a new one after the last was handed to its writer)."""
        if not self._slots or self._slots[-1].writing is not None:
            self._slots.append(PackSlot())
        return self._slots[-1]

    def _one_shot(self) -> Callable[[bytes], str]:
        """A function from bytes to their hex digest: one call per small file."""
        if self._hash_once is None:
            self._hash_once = digest_function(self.store.algorithm)
        return self._hash_once

    def _record(self, obj: StoredObject) -> None:
        self._other_new[obj.oid] = obj
        self.new_bytes += obj.size

    def _add_chunked(self, abs_path: str, path: str, mode: int) -> str:
        """Cut a big file into chunks (:func:`~dvlin.objects.bigfile.cut_file`), new ones
        into this commit's chunk packs."""
        packs = self._packs()
        try:
            oid, size, chunks = cut_file(
                abs_path,
                path,
                packs=packs,
                known=self.known,
                on_new=self._new_chunk,
                chunker=self.chunker,
            )
        except BaseException:
            packs.abort()
            self._packer = None
            raise
        self.entries.append(Entry(path, "file", mode, size, oid, chunks=chunks))
        return oid

    def _new_chunk(self, oid: Oid, size: int, offset: int) -> None:
        # "": the pack is named when it closes (finish fills it in); its bytes are counted
        # then, once, as the pack's.
        self._other_new[oid] = StoredObject(oid, size, Oid(""), offset)
        self._in_packs.add(oid)

    def _packs(self) -> PackWriter:
        if self._packer is None:
            self._packer = PackWriter(self.store)
        return self._packer

    def _flush_pack(self) -> None:
        """Hand the open pack to a thread that hashes and writes it (``os.writev`` of its
        members, no joined copy), so writing overlaps with reading the next files."""
        if not self._slots or self._slots[-1].writing is not None or not self._slots[-1].parts:
            return
        slot = self._slots[-1]
        parts, slot.parts = slot.parts, []
        if self.store.is_local:
            slot.writing = self._pool().submit(write_pack, self.store, self._hasher(), parts)
        else:
            done: Future[Oid] = Future()
            done.set_result(self.store.put(b"".join(parts)))
            slot.writing = done
        # At most two packs' bytes wait for their writer: memory stays bounded however many
        # files there are, and each written pack's members are named (and forgotten) early.
        while len(self._slots) > 2:
            self._resolve(self._slots.pop(0))

    def _resolve(self, slot: PackSlot) -> None:
        """Wait for a pack's write and name it in its members' rows and objects."""
        assert slot.writing is not None
        pack = slot.writing.result()
        self._record(StoredObject(pack, slot.size, None, None))
        rows, member_slot = self._rows, self._member_slot
        at = self._pack_id(pack)
        for row in slot.rows:
            rows.pack[row] = at  # the new blob's object row is this row: named with it
            oid = Oid(rows.oid[row])
            if member_slot.get(oid) is slot:
                del member_slot[oid]
        slot.rows = []

    def _wait_threads(self) -> None:
        """Wait for the pack writes and name each pack's members; the first failure is raised."""
        try:
            slots, self._slots = self._slots, []
            for slot in slots:
                if slot.writing is not None:
                    self._resolve(slot)
            self._member_slot = {}
        finally:
            if self._threads is not None:
                self._threads.shutdown(wait=True)
                self._threads = None

    def finish_table(self) -> pa.Table:
        """Write the last packs, and return every file as manifest rows (sorted by path).

        Chunk packs are written and flushed here; the caller's ``store.sync()`` waits for the
        small-file packs and flushes them (and the folders) before the catalog names any of it.
        """
        drop_early()  # every file is in: a cut helper forked early for another is not needed
        try:
            self._drain()
            self._flush_pack()
        except BaseException:
            for _, future in self._reading:
                future.cancel()
            self._reading.clear()
            with contextlib.suppress(BaseException):
                self._wait_threads()
            raise
        self._wait_threads()
        if self._packer is not None:
            packer, self._packer = self._packer, None
            for obj in packer.finish():
                if obj.pack is None:
                    self._record(obj)
                else:
                    self._other_new[obj.oid] = obj
            self._in_packs.clear()
        for p in self._pending_chunks:
            obj = self._other_new[p.oid]
            self._rows.add(p.path, p.mode, p.size, p.oid, self._pack_id(obj.pack), obj.offset)
        self._pending_chunks.clear()
        rows, self._rows = self._rows, Rows()
        self._first = {}
        entries, self.entries = self.entries, []
        return manifest_table(rows, self._pack_names, entries)

    def new_object_table(self, manifest: pa.Table) -> pa.Table:
        """The catalog rows of every object this commit stored (:func:`new_object_rows`);
        ``manifest`` holds :meth:`finish_table`'s rows (the version's manifest does)."""
        return new_object_rows(manifest, list(self._other_new.values()), self._new_loose)

    def finish(self) -> list[Entry]:
        """:meth:`finish_table` as entries (for small callers and tests)."""
        from dvlin.objects.manifest import table_entries

        self._finished = self.finish_table()
        return list(table_entries(self._finished))
