"""Reading and writing a remote's files over fsspec: immutable files, and refs moved by CAS.

Two kinds of write exist and no other (each backend's form is in :mod:`dvlin.remote.cas`):

- **immutable files** (objects, packs, record segments), named by their content: created only
  if absent, never visible under their final name until complete;
- **the ref file** (``refs.json``), replaced only by compare-and-swap against the version the
  writer read.

Transient failures are retried with exponential backoff; the rest are translated into
:mod:`dvlin.remote.errors` naming the remote.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from dvlin.errors import DvlinError, FileSystemError, UsageError
from dvlin.remote import cas
from dvlin.remote.errors import (
    RemoteAccessError,
    RemoteMissingError,
    RemoteUnreachableError,
)
from dvlin.remote.options import check_url, option_kwargs

T = TypeVar("T")

_RETRIES = 4
_STORE_MODULES = {"botocore", "aiobotocore", "aiohttp", "s3fs", "fsspec", "urllib3"}


def _is_transient(exc: BaseException) -> bool:
    name = type(exc).__name__
    if name in {"ConnectTimeoutError", "ReadTimeoutError", "ServerDisconnectedError"}:
        return True
    if isinstance(exc, TimeoutError | ConnectionResetError | BrokenPipeError):
        return True
    text = str(exc)
    return any(s in text for s in ("ConditionalRequestConflict", "SlowDown", "(503)", "(500)"))


def _is_unreachable(exc: BaseException) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        names & {"EndpointConnectionError", "ClientConnectorError", "ConnectTimeoutError"}
    ) or isinstance(exc, ConnectionRefusedError)


class Transport:
    """The files of one remote, relative to its root.

    Args:
        url: the remote's URL, used in messages.
        fs: an fsspec filesystem (None for a local folder, which is used through ``os``).
        root: the remote's folder on ``fs`` (no protocol), or an OS path when local.
    """

    def __init__(
        self,
        url: str,
        fs: Any,
        root: str,
        protocol: str,
        *,
        make_fs: Callable[[], Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._fs = fs
        self._make_fs = make_fs
        self._kwargs = dict(kwargs or {})
        self.root = root.rstrip("/")
        self.protocol = protocol
        self._requests = 0
        self._routes: dict[str, Transport] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str, options: Mapping[str, Any] | None = None) -> Transport:
        """Open the remote at ``url``, passing ``options`` to its filesystem."""
        protocol = check_url(url)
        kwargs = option_kwargs(options or {})
        if protocol == "file":
            path = url[len("file://") :] if url.startswith("file://") else url
            return cls(url, None, os.path.abspath(path), protocol)

        def make_fs() -> Any:
            try:
                from fsspec.core import url_to_fs

                return url_to_fs(url, **kwargs)[0]
            except ImportError as exc:
                raise UsageError(
                    f"cannot open remote {url!r}: {exc}",
                    hint="install the s3 extra: pip install 'dvlin[s3]'",
                ) from None
            except (TypeError, ValueError) as exc:
                raise UsageError(
                    f"cannot open remote {url!r}: {exc}", hint="check --option"
                ) from None

        if protocol == "s3":
            # s3fs (aiobotocore, aiohttp) costs a third of a no-op push's time to import and
            # to shut down: it is opened on first use, and reading refs.json does without it.
            root = url.split("://", 1)[1]
            return cls(url, None, root, protocol, make_fs=make_fs, kwargs=kwargs)
        fs = make_fs()
        return cls(url, fs, fs._strip_protocol(url), protocol)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem (None for a local folder), made on first use."""
        if self._fs is None and self._make_fs is not None:
            self._fs = self._make_fs()
        return self._fs

    def __repr__(self) -> str:
        return f"Transport({self.url!r})"

    @property
    def requests(self) -> int:
        """Requests made (reads, writes), here and on routed stores; for tests and benchmarks."""
        return self._requests + sum(t.requests for t in self._routes.values())

    def route(self, group: str, other: Transport) -> None:
        """Keep storage group ``group``'s files (``groups/GROUP/…``) at ``other``'s root."""
        self._routes[f"groups/{group}/"] = other

    def _routed(self, rel: str) -> tuple[Transport, str] | None:
        for prefix, other in self._routes.items():
            if rel.startswith(prefix):
                return other, rel[len(prefix) :]
        return None

    def path(self, rel: str) -> str:
        """The full path of a file of the remote."""
        return f"{self.root}/{rel}"

    # -- error handling ---------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one request with retries; translate what is not transient."""
        delay = 0.1
        for attempt in range(_RETRIES):
            with self._lock:
                self._requests += 1
            try:
                return fn()
            except (DvlinError, FileExistsError):
                raise
            except FileNotFoundError as exc:
                if "bucket" in str(exc).lower():
                    raise RemoteMissingError(
                        f"remote {self.url}: the bucket does not exist",
                        hint="create it, or fix the URL with `dvlin remote add --force`",
                    ) from None
                raise
            except PermissionError:
                raise RemoteAccessError(
                    f"remote {self.url}: access denied to {what}",
                    hint="check the credentials in the environment and the store's access policy",
                ) from None
            except (NotADirectoryError, IsADirectoryError):
                raise UsageError(
                    f"remote {self.url} is not a folder of dvlin files ({what})",
                    hint="check the URL: `dvlin remote list`",
                ) from None
            except Exception as exc:
                if _is_transient(exc) and attempt < _RETRIES - 1:
                    time.sleep(delay * (1 + random.random()))
                    delay *= 4
                    continue
                if self.fs is None and isinstance(exc, OSError):
                    # A local folder: disk full, read-only mount… named like every OS error.
                    raise FileSystemError.from_os(
                        exc, action="use the remote file", path=self.path(what)
                    ) from None
                raise self._translate(what, exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _translate(self, what: str, exc: BaseException) -> BaseException:
        """The one-line error for a failure that is not transient (or no longer retried)."""
        names = {c.__name__ for c in type(exc).__mro__}
        if _is_unreachable(exc):
            return RemoteUnreachableError(
                f"cannot reach remote {self.url}: {type(exc).__name__}",
                hint="check the endpoint_url option, the network and the URL",
            )
        if names & {"NoCredentialsError", "PartialCredentialsError"}:
            return RemoteAccessError(
                f"remote {self.url}: no credentials found",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the "
                "environment",
            )
        if "AccessDenied" in str(exc) or "Forbidden" in str(exc):
            return RemoteAccessError(
                f"remote {self.url}: access denied to {what}",
                hint="check the credentials in the environment and the store's access policy",
            )
        module = type(exc).__module__.split(".", 1)[0]
        if isinstance(exc, OSError) or module in _STORE_MODULES:
            # The store failed in a way dvlin has no name for: still one line, never a trace.
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            return RemoteUnreachableError(
                f"remote {self.url}: {what} failed: {type(exc).__name__}"
                + (f": {first}" if first else ""),
                hint="run the command again; if it persists, check the store and its options",
            )
        return exc

    # -- reading ----------------------------------------------------------------------------

    def get(self, rel: str) -> bytes | None:
        """A whole file, or None when it does not exist."""
        if routed := self._routed(rel):
            return routed[0].get(routed[1])
        path = self.path(rel)

        def read() -> bytes | None:
            try:
                if self.fs is None:
                    with open(path, "rb") as f:
                        return f.read()
                if self.protocol == "s3":
                    return cas.s3_get(self.fs, path)[0]
                return bytes(self.fs.cat_file(path))
            except FileNotFoundError as exc:
                if "bucket" in str(exc).lower():
                    raise
                return None

        return self._call(rel, read)

    def get_range(self, rel: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of a file; a missing file raises FileNotFoundError."""
        if routed := self._routed(rel):
            return routed[0].get_range(routed[1], start, end)
        path = self.path(rel)

        def read() -> bytes:
            if self.fs is None:
                with open(path, "rb") as f:
                    f.seek(start)
                    return f.read(end - start)
            if self.protocol == "s3":
                return cas.s3_get(self.fs, path, f"bytes={start}-{end - 1}")[0]
            return bytes(self.fs.cat_file(path, start=start, end=end))

        return self._call(rel, read)

    # -- immutable files --------------------------------------------------------------------

    def put_new(self, rel: str, data: bytes) -> bool:
        """Create an immutable file; False when it already exists (same name, same bytes)."""
        if routed := self._routed(rel):
            return routed[0].put_new(routed[1], data)
        path = self.path(rel)
        if self.fs is None:
            return self._call(rel, lambda: cas.put_new_local(self.root, path, data))
        if self.protocol == "memory":
            return self._call(rel, lambda: cas.put_new_memory(self.fs, path, data))
        return self._call(rel, lambda: cas.put_new_s3(self.fs, path, data))

    # -- the ref file (compare-and-swap) ----------------------------------------------------

    def read_ref(self, rel: str) -> tuple[bytes, str] | None:
        """The ref file's bytes and the token a later :meth:`swap_ref` must present."""
        path = self.path(rel)
        if self.protocol != "s3":
            data = self.get(rel)
            return None if data is None else (data, cas.token_of(data))

        plain = self._fs is None and cas.plain_s3_kwargs(self._kwargs)

        def read_s3() -> tuple[bytes, str] | None:
            try:
                if plain:
                    return cas.botocore_get(self._kwargs, path)
                return cas.s3_get(self.fs, path)
            except FileNotFoundError as exc:
                if "bucket" in str(exc).lower():
                    raise
                return None

        return self._call(rel, read_s3)

    def swap_ref(self, rel: str, data: bytes, token: str | None) -> bool:
        """Replace the ref file if it is still what ``token`` says (None: it must not exist).

        Returns False when another writer got there first; the caller re-reads and decides.
        """
        path = self.path(rel)
        if self.fs is None:
            return self._call(rel, lambda: cas.swap_local(self.root, path, data, token))
        if self.protocol == "memory":
            return self._call(rel, lambda: cas.swap_memory(self.fs, path, data, token))
        return self._call(rel, lambda: cas.swap_s3(self.fs, path, data, token))

    # -- listing (fsck and gc only) ---------------------------------------------------------

    def exists(self, rel: str) -> bool:
        """Whether a file exists (one request)."""
        if routed := self._routed(rel):
            return routed[0].exists(routed[1])
        path = self.path(rel)
        if self.fs is None:
            return self._call(rel, lambda: os.path.exists(path))
        return bool(self._call(rel, lambda: self.fs.exists(path)))

    def list_files(self, folder: str) -> dict[str, float]:
        """Every file under ``folder`` and when it was written (epoch seconds). gc only."""
        found: dict[str, float] = {}
        if folder == "groups":
            for prefix, other in self._routes.items():
                for sub in ("packs", "objects", "segments"):
                    found.update({prefix + k: v for k, v in other.list_files(sub).items()})
        base = self.path(folder)
        if self.fs is None:

            def walk() -> None:
                for here, _, files in os.walk(base):
                    for name in files:
                        full = os.path.join(here, name)
                        found[os.path.relpath(full, self.root)] = os.stat(full).st_mtime

            self._call(folder, walk)
            return found

        def find() -> dict[str, Any]:
            try:
                return dict(self.fs.find(base, detail=True))
            except FileNotFoundError:
                return {}

        root = self.fs._strip_protocol(self.root).rstrip("/")
        for path, info in self._call(folder, find).items():
            rel = self.fs._strip_protocol(path)[len(root) + 1 :]
            stamp = info.get("LastModified") or info.get("created") or info.get("mtime")
            if hasattr(stamp, "timestamp"):
                stamp = stamp.timestamp()
            found[rel] = float(stamp) if stamp is not None else 0.0
        return found

    def delete(self, rel: str) -> None:
        """Remove a file (remote gc only)."""
        if routed := self._routed(rel):
            routed[0].delete(routed[1])
            return
        path = self.path(rel)
        if self.fs is None:
            self._call(rel, lambda: os.unlink(path))
        else:
            self._call(rel, lambda: self.fs.rm_file(path))
