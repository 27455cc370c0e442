"""Repo: find, create and open a dvlin repository, and wire its parts together.

This is the core that every verb in :mod:`dvlin.ops` takes; it knows nothing of the verbs.
The public class with the verbs as methods is :class:`dvlin.api.Repo` (``dvlin.Repo``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Self, TypeVar

from dvlin.catalog import Catalog
from dvlin.config import DVLIN_DIR, RepoConfig, check_chunker, find_root, load_config
from dvlin.errors import (
    ConflictError,
    FileSystemError,
    NotFoundError,
    ReadOnlyRepoError,
    UsageError,
)
from dvlin.identity import utc_now
from dvlin.objects.cdc import DEFAULT_CHUNKER
from dvlin.objects.hashing import DEFAULT_ALGORITHM, hasher_factory

if TYPE_CHECKING:
    from dvlin.audit.change import Change
    from dvlin.objects.store import ObjectStore, StoredObject


def lock_timeout() -> float:
    """Seconds to wait for another dvlin process (``DVLIN_LOCK_TIMEOUT``, default 60)."""
    try:
        return float(os.environ.get("DVLIN_LOCK_TIMEOUT", "60"))
    except ValueError:
        raise UsageError(
            "DVLIN_LOCK_TIMEOUT must be a number of seconds",
            hint="e.g. DVLIN_LOCK_TIMEOUT=30",
        ) from None


class Repo:
    """An open dvlin repository: its root folder, config, catalog and object store."""

    def __init__(self, root: Path, config: RepoConfig) -> None:
        self.root = root
        self.dvlin_dir = root / DVLIN_DIR
        self.config = config
        self._catalog: Catalog | None = None
        self._store: ObjectStore | None = None
        self._lock_depth = 0
        self._lock_owner: int | None = None

    # -- creating and finding -----------------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        storage: str = "",
        hash: str = DEFAULT_ALGORITHM,
        chunker: str = DEFAULT_CHUNKER,
    ) -> Self:
        """Create ``.dvlin/`` in ``path`` and return the new repo (its big files cut by
        ``chunker``, :data:`~dvlin.objects.cdc.CHUNKERS`).

        Raises:
            ConflictError: ``path`` already holds a repo.
        """
        root = Path(path).resolve()
        hasher_factory(hash)  # refuse an unknown algorithm before anything is written
        check_chunker(chunker)
        if storage:
            _check_storage_url(storage)
        dvlin_dir = root / DVLIN_DIR
        if dvlin_dir.exists():
            raise ConflictError(
                f"{root} is already a dvlin repo",
                hint="use it as it is, or remove its .dvlin folder to start over",
            )
        if root.exists() and not root.is_dir():
            raise UsageError(
                f"{root} is a file, not a folder",
                hint="give dvlin init a folder (it is created if missing)",
            )
        import uuid

        config = RepoConfig(repo_id=uuid.uuid4().hex, hash=hash, chunker=chunker, storage=storage)
        tmp = root / f".dvlin.init-{uuid.uuid4().hex[:8]}"
        made_root = not root.exists()
        try:
            root.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
        except NotADirectoryError:
            raise UsageError(
                f"cannot create {root}: a parent of it is a file",
                hint="give dvlin init a folder (it is created if missing)",
            ) from None
        except OSError as exc:
            raise FileSystemError.from_os(exc, action="create", path=root) from None
        try:
            (tmp / "config.toml").write_text(config.to_toml(), encoding="utf-8")
            (tmp / ".gitignore").write_text(
                "# dvlin's catalog and local object store are not for git\n*\n", encoding="utf-8"
            )
            catalog = Catalog.open(tmp / "catalog.db", create=True)
            with catalog.transaction():
                catalog.set_meta("repo_id", config.repo_id)
                catalog.set_meta("created_at", utc_now())
            catalog.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            catalog.close()
            if storage:
                _make_storage(storage, config)
            else:
                (tmp / "objects").mkdir()
            # The repo appears all at once, so an interrupted init leaves no half-made .dvlin.
            tmp.rename(dvlin_dir)
        except BaseException as exc:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            if made_root:
                with contextlib.suppress(OSError):
                    root.rmdir()  # the folder init made for the repo, still empty
            if isinstance(exc, OSError):
                raise FileSystemError.from_os(
                    exc, action="write", path=exc.filename or tmp
                ) from None
            raise
        return cls(root, config)

    @classmethod
    def discover(cls, start: str | os.PathLike[str] = ".") -> Path:
        """The nearest folder at or above ``start`` that holds ``.dvlin/``."""
        root = find_root(start)
        if root is not None:
            return root
        here = Path(start).resolve()
        raise NotFoundError(
            f"not a dvlin repo (or any parent up to /): {here}",
            hint="run `dvlin init` first, or cd into a repo",
        )

    @classmethod
    def open(cls, path: str | os.PathLike[str] = ".") -> Self:
        """Open the repo at or above ``path``."""
        root = cls.discover(path)
        return cls(root, load_config(root / DVLIN_DIR / "config.toml"))

    def close(self) -> None:
        """Close the catalog connection."""
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Repo({str(self.root)!r})"

    # -- parts --------------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The SQLite catalog (opened on first use)."""
        if self._catalog is None:
            catalog = Catalog.open(self.dvlin_dir / "catalog.db", timeout=lock_timeout())
            # A read-only repo is read as it is; the audit layer is only imported (3 ms) when an
            # upgrade left records to adopt.
            if not catalog.read_only and catalog.get_meta("audit_adopt_pending") is not None:
                from dvlin.audit.adopt import adopt_pending

                adopt_pending(catalog)
            self._catalog = catalog
        return self._catalog

    @property
    def store(self) -> ObjectStore:
        """The object store named by the config (``.dvlin/objects`` by default)."""
        if self._store is None:
            from dvlin.objects.store import ObjectStore

            local = self.local_store_root
            if local is not None:
                self._store = ObjectStore.local(
                    local, algorithm=self.config.hash, fsync=self.config.fsync, index=_Index(self)
                )
            else:
                self._store = ObjectStore.from_url(
                    self.config.storage,
                    algorithm=self.config.hash,
                    fsync=self.config.fsync,
                    index=_Index(self),
                )
        return self._store

    @property
    def local_store_root(self) -> str | None:
        """The object store's folder when it is on this machine's disk (no fsspec import)."""
        url = self.config.storage
        if not url:
            return str(self.dvlin_dir / "objects")
        if url.startswith("file://"):
            return os.path.abspath(url[len("file://") :]).rstrip("/")
        if "://" not in url:
            return os.path.abspath(url).rstrip("/")
        return None

    @contextlib.contextmanager
    def lock(self, *, timeout: float | None = None) -> Iterator[None]:
        """Hold the repo's write lock; another dvlin process waits up to ``timeout`` seconds.

        Re-entrant within this ``Repo`` and thread: a verb that already holds it (commit,
        around its unit of work) passes straight through; another thread waits as another
        process would.
        """
        if self._lock_depth and self._lock_owner == threading.get_ident():
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        wait = lock_timeout() if timeout is None else timeout
        path = self.dvlin_dir / "lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise ReadOnlyRepoError(str(path)) from None
            raise FileSystemError.from_os(exc, action="open", path=path) from None
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                        raise ConflictError(
                            f"the repo is locked by another dvlin process ({holder or 'unknown'});"
                            f" waited {wait:g} s",
                            hint="wait for it to finish, or raise DVLIN_LOCK_TIMEOUT",
                        ) from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
            self._lock_depth, self._lock_owner = 1, threading.get_ident()
            try:
                yield
            finally:
                self._lock_depth, self._lock_owner = 0, None
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def change(self, action: str, target: str = "") -> Iterator[Change]:
        """One unit of work: the repo lock, one catalog transaction, and its audit entries.

        ``with repo.change("tag", "data@v1") as tx:`` — change rows, then ``tx.audit(record=
        (kind, key))`` for each record changed; the entries are appended, with the records'
        digests, when the block succeeds (see :mod:`dvlin.audit.change`).
        """
        from dvlin.audit.change import Change

        with self.lock():
            catalog = self.catalog
            with catalog.transaction():
                tx = Change(catalog, action, target)
                yield tx
                tx.finish()

    # -- paths --------------------------------------------------------------------------------

    def relpath(self, path: str | os.PathLike[str]) -> str:
        """``path`` (absolute, or relative to the working folder) as a POSIX path in the repo.

        Raises:
            UsageError: the path is outside the repo or inside ``.dvlin``.
        """
        absolute = Path(os.path.abspath(path))
        try:
            rel = absolute.relative_to(self.root)
        except ValueError:
            raise UsageError(
                f"{path} is outside the repo at {self.root}",
                hint="dvlin versions paths inside the repo; move or copy the data in",
            ) from None
        text = rel.as_posix()
        if text == DVLIN_DIR or text.startswith(DVLIN_DIR + "/"):
            raise UsageError(f"{path} is inside .dvlin", hint="dvlin's own files are not data")
        return text


def _make_storage(url: str, config: RepoConfig) -> None:
    """Create the storage folder or bucket of ``init --storage``, or refuse it in one line.

    Runs before the new ``.dvlin`` appears, so a storage that cannot be made leaves no repo.
    """
    from dvlin.errors import DvlinError
    from dvlin.objects.store import ObjectStore

    try:
        store = ObjectStore.from_url(url, algorithm=config.hash, fsync=config.fsync)
        store.fs.makedirs(store.root, exist_ok=True)
    except DvlinError:
        raise
    except OSError as exc:
        raise FileSystemError.from_os(exc, action="create", path=exc.filename or url) from None
    except Exception as exc:  # fsspec backends raise what they like (ValueError, botocore's)
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        reason = reason if len(reason) <= 160 else reason[:159] + "…"
        raise UsageError(
            f"the storage location cannot be created: {reason or type(exc).__name__}",
            hint="check the URL (bucket names: lower-case letters, digits, '.' and '-') and "
            "your access to it; nothing was created",
        ) from None


def _check_storage_url(url: str) -> None:
    """Refuse a storage URL that holds a credential or that fsspec cannot open, before
    anything is written (``init --storage`` and ``config set storage.url`` alike)."""
    from urllib.parse import parse_qsl, urlsplit

    from fsspec.core import url_to_fs

    from dvlin.remote.options import check_option

    # The message never repeats the URL: it would put the secret on the screen and in logs.
    never = (
        "credentials never go in the config: use the environment or the backend's own configuration"
    )
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise UsageError("the storage URL holds a user or password", hint=never)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        try:
            check_option(name, value)
        except UsageError:
            raise UsageError(
                f"the storage URL's parameter {name!r} looks like a credential", hint=never
            ) from None
        if name.lower() in ("sig", "signature") or name.lower().endswith("-signature"):
            raise UsageError(
                f"the storage URL's parameter {name!r} looks like a credential", hint=never
            )

    try:
        url_to_fs(url)
    except (ImportError, ValueError) as exc:
        hint = "install the s3 extra: pip install 'dvlin[s3]'" if url.startswith("s3") else None
        raise UsageError(f"cannot open storage {url!r}: {exc}", hint=hint) from None


_T = TypeVar("_T")


class _Index:
    """The catalog as the store's index of packed objects, opened only when a read needs it.

    Reads may come from worker threads (a push uploads on a pool): SQLite connections belong
    to the thread that made them, so another thread gets a catalog connection of its own.
    """

    def __init__(self, repo: Repo) -> None:
        self._repo = repo
        self._local = threading.local()

    def _ask(self, question: Callable[[Catalog], _T]) -> _T:
        import sqlite3

        mine: Catalog | None = getattr(self._local, "catalog", None)
        if mine is None:
            # A worker thread must not open the repo's own connection: it would belong to it.
            if (
                self._repo._catalog is not None
                or threading.current_thread() is threading.main_thread()
            ):
                try:
                    return question(self._repo.catalog)
                except sqlite3.ProgrammingError:  # the repo's connection is another thread's
                    pass
            mine = self._local.catalog = Catalog.open(
                self._repo.dvlin_dir / "catalog.db", timeout=lock_timeout()
            )
        return question(mine)

    def find_object(self, oid: str) -> StoredObject | None:
        """Where the catalog says ``oid`` is stored."""
        return self._ask(lambda c: c.find_object(oid))

    def find_objects(self, oids: Iterable[str]) -> Mapping[str, StoredObject]:
        """Where the catalog says each of ``oids`` is stored."""
        wanted = list(oids)
        return self._ask(lambda c: c.find_objects(wanted))
