"""An object index in memory: the catalog's part an :class:`ObjectStore` asks (where objects
are), for tests of the store, packs and big files without a catalog."""

from __future__ import annotations

from collections.abc import Iterable

from dvlin.objects.store import StoredObject


class MemoryIndex:
    """Where objects are, as a test recorded them in :attr:`objects` (oid → row)."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}

    def find_object(self, oid: str) -> StoredObject | None:
        return self.objects.get(oid)

    def find_objects(self, oids: Iterable[str]) -> dict[str, StoredObject]:
        return {o: self.objects[o] for o in oids if o in self.objects}
