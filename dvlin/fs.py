"""``dvlin://ASSET@REF/PATH``: versions as a read-only fsspec filesystem.

    pd.read_parquet("dvlin://events@v3/part-0.parquet")
    pyarrow.dataset.dataset("features@release/", filesystem=fsspec.filesystem("dvlin"))

The repo is the one at or above the working folder, or the one named by ``?repo=PATH`` (or
``fsspec.filesystem("dvlin", repo=PATH)``). A ref is anything ``dvlin checkout`` takes after
the ``@`` (``v3``, ``latest``, a tag, ``~1``); a path without ``@`` names an asset's latest
version. Nothing is checked out: byte ranges are served from the packs, loose objects and
chunks that hold them, reading only the chunks a range touches, and every object is verified
against its oid before a byte of it is returned — a corrupt object raises
:class:`~dvlin.objects.store.ObjectError`, never data.

While a ``dvlin.track`` block runs, every version opened here is recorded as an input of the
run.
"""

from __future__ import annotations

import posixpath
import threading
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from dvlin.errors import NotFoundError
from dvlin.objects.manifest import Entry, Manifest
from dvlin.objects.store import ObjectError, ObjectStore

if TYPE_CHECKING:
    from pathlib import Path

    from dvlin.catalog import Version

__all__ = ["DvlinFileSystem", "read_range"]

PROTOCOL = "dvlin"
_MAX_LINK_HOPS = 40


class PathNotFoundError(NotFoundError, FileNotFoundError):
    """A path that the version does not hold (a ``FileNotFoundError`` for fsspec callers)."""


def read_range(store: ObjectStore, entry: Entry, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of a file entry, read only from the objects that hold them.

    Each object read is verified whole against its oid (a pack slice against the blob's oid),
    so a range can never return bytes that differ from what was committed.
    """
    start, end = max(0, start), min(entry.size, end)
    if start >= end:
        return b""
    if entry.chunks is not None:
        parts: list[bytes] = []
        pos = 0
        for chunk in entry.chunks:
            chunk_end = pos + chunk.size
            if chunk_end > start:
                data = store.get(chunk.oid)
                parts.append(data[max(start - pos, 0) : min(end, chunk_end) - pos])
            pos = chunk_end
            if pos >= end:
                break
        return b"".join(parts)
    return _whole(store, entry)[start:end]


def _whole(store: ObjectStore, entry: Entry) -> bytes:
    assert entry.oid is not None
    if entry.pack is not None:
        return store.get_slice(entry.pack, entry.offset or 0, entry.size, entry.oid)
    return store.get(entry.oid)


class _Resolved:
    """One version opened through the filesystem: its manifest, looked up by path.

    The manifest stays a table: a path is found by binary search and a folder's children by
    a prefix filter, so opening a million-file version builds no million Python objects.
    """

    def __init__(self, version: Version, manifest: Manifest) -> None:
        self.version = version
        self.manifest = manifest

    def get(self, path: str) -> Entry | None:
        """The entry at ``path``."""
        return self.manifest.get(path)

    def children(self, folder: str) -> list[Entry]:
        """The entries directly inside ``folder`` ("" for the version's root), sorted."""
        from dvlin.objects import manifest as manifests

        if len(self.manifest) < manifests.SMALL:
            return [
                e
                for e in self.manifest.entries()
                if posixpath.dirname(e.path) == folder and e.path != folder
            ]
        import pyarrow.compute as pc

        paths = self.manifest.paths()
        if folder:
            inside = pc.starts_with(paths, folder + "/")
            rest = pc.utf8_slice_codeunits(paths, len(folder) + 1)
            mask = pc.and_(inside, pc.invert(pc.match_substring(rest, "/")))
        else:
            mask = pc.invert(pc.match_substring(paths, "/"))
        return list(self.manifest.filter(pc.fill_null(mask, False)).entries())


class DvlinFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """Read-only access to committed versions of a dvlin repo."""

    protocol = PROTOCOL
    root_marker = ""
    # The repo is found from the working folder when the instance is made; a cached instance
    # would keep serving the repo of an earlier folder.
    cachable = False

    def __init__(self, repo: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from dvlin.config import DVLIN_DIR, load_config
        from dvlin.repo import Repo

        self.repo_root = Repo.discover(repo if repo is not None else ".")
        self._config = load_config(self.repo_root / DVLIN_DIR / "config.toml")
        self._store: ObjectStore | None = None
        self._versions: dict[str, _Resolved] = {}
        self._lock = threading.Lock()

    # -- URLs ---------------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = path if isinstance(path, str) else str(path)
        if text.startswith(f"{PROTOCOL}://"):
            text = text[len(PROTOCOL) + 3 :]
        text = text.split("?", 1)[0]
        return text.strip("/")

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        query = urlsplit(path).query if "?" in path else ""
        repo = parse_qs(query).get("repo")
        return {"repo": repo[0]} if repo else {}

    # -- resolving ----------------------------------------------------------------------------

    @property
    def store(self) -> ObjectStore:
        """The repo's object store (reads only)."""
        if self._store is None:
            from dvlin.repo import Repo

            self._store = Repo(self.repo_root, self._config).store
        return self._store

    def _split(self, path: str) -> tuple[str, str]:
        """``ASSET@REF/SUB`` → (``ASSET@REF`` as a ref, ``SUB``)."""
        path = self._strip_protocol(path)
        name, at, rest = path.partition("@")
        if at:
            selector, _, sub = rest.partition("/")
            return f"{name}@{selector}", sub
        # No '@': the longest leading run of components that names an asset, at its latest.
        parts = path.split("/")
        names = set(self._with_repo(lambda repo: repo.catalog.asset_names()))
        for cut in range(len(parts), 0, -1):
            candidate = "/".join(parts[:cut])
            if candidate in names:
                return candidate, "/".join(parts[cut:])
        return path, ""

    def _with_repo(self, work: Any) -> Any:
        # A short-lived catalog connection per lookup: pyarrow calls from its own threads,
        # and an SQLite connection belongs to the thread that made it.
        from dvlin.repo import Repo

        with Repo(self.repo_root, self._config) as repo:
            return work(repo)

    def resolve(self, path: str) -> tuple[Version, str]:
        """The version a path names and the path inside it."""
        ref, sub = self._split(path)
        return self._open_version(ref).version, sub

    def _open_version(self, ref: str) -> _Resolved:
        with self._lock:
            found = self._versions.get(ref)
            if found is None:
                from dvlin.ops.manifests import load_manifest
                from dvlin.ops.refs import resolve

                def load(repo: Any) -> _Resolved:
                    version = resolve(repo, ref)
                    return _Resolved(version, load_manifest(repo, version))

                found = self._with_repo(load)
                self._versions[ref] = found
                from dvlin.tracking import note_read

                note_read(self.repo_root, found.version)
            return found

    def _entry(self, path: str) -> tuple[_Resolved, str, Entry | None]:
        """The entry at ``path`` with links inside the version followed (None: the root)."""
        ref, sub = self._split(path)
        resolved = self._open_version(ref)
        parts = [p for p in sub.split("/") if p and p != "."]  # "a/./b" is "a/b"; ".." never climbs
        current = ""
        hops = 0
        entry: Entry | None = None
        while parts:
            current = posixpath.join(current, parts.pop(0)) if current else parts.pop(0)
            entry = resolved.get(current)
            if entry is None:
                raise PathNotFoundError(
                    f"{ref} has no path {sub!r}", hint=f"`dvlin ls {ref}` lists its files"
                )
            if entry.type == "link":
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    raise PathNotFoundError(f"{ref}: too many links under {sub!r}")
                target = posixpath.normpath(
                    posixpath.join(posixpath.dirname(current), entry.target or "")
                )
                # An absolute target names the reader's machine, never a path of the version.
                if target == ".." or target.startswith(("../", "/")):
                    raise PathNotFoundError(
                        f"{ref}: {current!r} links outside the version",
                        hint="check the target out, or read it where it lives",
                    )
                parts = [p for p in target.split("/") if p and p != "."] + parts
                current = ""
                entry = None
        return resolved, current, entry

    # -- the fsspec interface -----------------------------------------------------------------

    def _info_of(self, name: str, entry: Entry | None) -> dict[str, Any]:
        if entry is None or entry.type == "dir":
            return {"name": name, "size": 0, "type": "directory"}
        return {
            "name": name,
            "size": entry.size,
            "type": "file",
            "oid": entry.oid,
            "mode": entry.mode,
        }

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """Name, size and type (``file`` or ``directory``) of a path in a version."""
        name = self._strip_protocol(path)
        if not name:
            return {"name": "", "size": 0, "type": "directory"}
        _, _, entry = self._entry(name)
        return self._info_of(name, entry)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """The children of a folder of a version (or, at the root, every asset)."""
        name = self._strip_protocol(path)
        if not name:
            assets = self._with_repo(lambda repo: repo.catalog.asset_names())
            rows = [{"name": a, "size": 0, "type": "directory"} for a in assets]
            return rows if detail else [r["name"] for r in rows]
        resolved, inside, entry = self._entry(name)
        if entry is not None and entry.type != "dir":
            rows = [self._info_of(name, entry)]
        else:
            rows = []
            for child_entry in resolved.children(inside):
                child_name = f"{name}/{posixpath.basename(child_entry.path)}"
                if child_entry.type == "link":
                    try:
                        _, _, child_entry = self._entry(child_name)  # type: ignore[assignment]
                    except FileNotFoundError:
                        continue  # a dangling link has nothing to read
                rows.append(self._info_of(child_name, child_entry))
        return rows if detail else [r["name"] for r in rows]

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        """Bytes of a file (or of ``[start, end)``), verified, reading only what is needed."""
        _, _, entry = self._entry(path)
        if entry is None or entry.type != "file":
            raise IsADirectoryError(self._strip_protocol(path))
        size = entry.size
        begin = 0 if start is None else (start if start >= 0 else max(size + start, 0))
        stop = size if end is None else (end if end >= 0 else max(size + end, 0))
        return self._read(entry, begin, stop)

    def _read(self, entry: Entry, start: int, end: int) -> bytes:
        try:
            return read_range(self.store, entry, start, end)
        except ObjectError as exc:
            from dvlin.ops.manifests import with_versions

            broken = exc
            raise self._with_repo(lambda repo: with_versions(repo, broken)) from None

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> DvlinFile:
        if mode != "rb":
            raise PermissionError(f"dvlin:// is read-only; cannot open {path!r} with {mode!r}")
        _, _, entry = self._entry(path)
        if entry is None or entry.type != "file":
            raise IsADirectoryError(self._strip_protocol(path))
        return DvlinFile(self, path, entry, block_size=block_size, cache_options=cache_options)

    def _read_only(self, path: Any = "", *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(
            f"dvlin:// is read-only; cannot change {self._strip_protocol(path)!r}"
            " (versions never change: commit new data with `dvlin commit`)"
        )

    # Every call that would write, move or delete; fsspec's defaults would raise a bare
    # NotImplementedError, or half-work through ``open`` before failing.
    rm = rm_file = _rm = rmdir = mkdir = makedirs = touch = _read_only
    mv = copy = cp_file = pipe_file = put_file = put = pipe = _read_only

    def ukey(self, path: str) -> str:
        """The content id of a file: it never changes while the path names one version."""
        _, _, entry = self._entry(path)
        return str(entry.oid if entry is not None else "")


class DvlinFile(AbstractBufferedFile):  # type: ignore[misc]
    """A read-only file of a version; ranges come from :func:`read_range`."""

    def __init__(
        self,
        fs: DvlinFileSystem,
        path: str,
        entry: Entry,
        *,
        block_size: Any = None,
        cache_options: Any = None,
    ) -> None:
        self.entry = entry
        self._last: tuple[str, bytes] | None = None
        super().__init__(
            fs,
            path,
            mode="rb",
            block_size=block_size or "default",
            cache_options=cache_options,
            size=entry.size,
        )

    def _fetch_range(self, start: int, end: int) -> bytes:
        e = self.entry
        if e.chunks is not None:
            return bytes(self.fs._read(e, start, end))
        # A loose or packed file is one verified object: keep it for the next range.
        if self._last is None:
            self._last = (str(e.oid), self.fs._read(e, 0, e.size))
        return self._last[1][max(0, start) : min(e.size, end)]


def register() -> None:
    """Make ``dvlin://`` known to fsspec in this process (the entry point does it when
    dvlin is installed)."""
    import fsspec

    fsspec.register_implementation(PROTOCOL, DvlinFileSystem, clobber=True)


register()
