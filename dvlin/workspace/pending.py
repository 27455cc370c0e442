"""The pending-checkout marker: a checkout that began writing into a folder and has not finished.

``checkout`` writes ``.dvlin/checkouts/<digest of the target>.json`` (durably: temporary name,
fsync, rename, fsync of the folder) before its first change to the target, and removes it after
its last one, catalog included. A marker that outlives its process therefore means the folder
is half old version, half new: ``status`` says so, ``commit`` refuses to snapshot it, and the
next checkout into the same folder treats the files it finds from the marker's version (and
leftover temporary names) as its own work rather than as user changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from dvlin.errors import ConflictError
from dvlin.sha import sha256
from dvlin.values import sealed

PENDING_DIR = "checkouts"
_TMP_NAME = re.compile(r"^\..+\.dvlin-[0-9a-f]{8}$")
"""The temporary names materialize writes beside a file (``.NAME.dvlin-1a2b3c4d``)."""


@sealed
@dataclass(frozen=True, slots=True)
class PendingCheckout:
    """A checkout that started changing ``target`` and has not finished."""

    asset: str
    version: str
    """The version's label, ``asset@vN``."""
    version_id: str
    target: str
    """The absolute folder it writes into."""
    started_at: str
    pid: int

    @property
    def message(self) -> str:
        """The one line ``status`` and ``commit`` show."""
        return f"checkout of {self.version} interrupted; rerun it or `dvlin checkout --force`"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape (and the marker file's content)."""
        return asdict(self)


def is_temporary_name(name: str) -> bool:
    """True for a file name that only an interrupted write leaves behind."""
    return bool(_TMP_NAME.match(name))


def remove_temporary_beside(target: str, roots: Sequence[str]) -> int:
    """Remove what an interrupted write left beside each root that is a file; how many went.

    A file under a root folder is found by the checkout's own walk; a root that is one file
    (``big.bin``) is written through ``.big.bin.dvlin-XXXXXXXX`` beside it, outside any walk,
    so a killed writer's temporary file (up to the size of the file) would stay there for
    good. Only regular files under exactly that root's temporary name are removed; call it
    only for a folder whose pending marker says a checkout was interrupted there.
    """
    removed = 0
    for root in roots:
        folder, _, name = root.rpartition("/")
        if name in ("", ".", ".."):
            continue
        prefix = f".{name[:60]}.dvlin-"
        where = os.path.join(target, folder) if folder else target
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for found in names:
            if not (found.startswith(prefix) and is_temporary_name(found)):
                continue
            if len(found) != len(prefix) + 8:
                continue
            full = os.path.join(where, found)
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(os.lstat(full).st_mode):
                    os.unlink(full)
                    removed += 1
    return removed


def _folder(dvlin_dir: str | os.PathLike[str]) -> str:
    return os.path.join(dvlin_dir, PENDING_DIR)


def _marker(dvlin_dir: str | os.PathLike[str], target: str) -> str:
    digest = sha256(os.fsencode(target)).hexdigest()[:24]
    return os.path.join(_folder(dvlin_dir), f"{digest}.json")


def _sync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def begin(dvlin_dir: str | os.PathLike[str], pending: PendingCheckout) -> None:
    """Record ``pending`` durably; call before the first change to its target."""
    folder = _folder(dvlin_dir)
    os.makedirs(folder, exist_ok=True)
    final = _marker(dvlin_dir, pending.target)
    tmp = os.path.join(folder, f".{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(pending.to_dict(), f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def finish(dvlin_dir: str | os.PathLike[str], target: str) -> None:
    """Forget the pending checkout into ``target``; call after its last change."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_marker(dvlin_dir, target))
        _sync_folder(_folder(dvlin_dir))


def find(dvlin_dir: str | os.PathLike[str], target: str) -> PendingCheckout | None:
    """The pending checkout into exactly ``target``, if any."""
    return _read(_marker(dvlin_dir, target))


def pending_checkouts(dvlin_dir: str | os.PathLike[str]) -> list[PendingCheckout]:
    """Every pending checkout of the repo, sorted by target."""
    try:
        names = os.listdir(_folder(dvlin_dir))
    except FileNotFoundError:
        return []
    found = (_read(os.path.join(_folder(dvlin_dir), n)) for n in names if n.endswith(".json"))
    return sorted((p for p in found if p is not None), key=lambda p: p.target)


def is_running(dvlin_dir: str | os.PathLike[str], pending: PendingCheckout) -> bool:
    """True while the process that wrote ``pending`` still holds the repo lock: not stopped."""
    try:
        fd = os.open(os.path.join(dvlin_dir, "lock"), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            # The holder writes "pid N" into the lock file once it has the lock.
            return os.pread(fd, 64, 0).decode(errors="replace").strip() == f"pid {pending.pid}"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def overlapping(dvlin_dir: str | os.PathLike[str], path: str) -> list[PendingCheckout]:
    """Pending checkouts whose target is ``path``, lies inside it, or holds it."""
    path = os.path.abspath(path)
    return [
        p
        for p in pending_checkouts(dvlin_dir)
        if _nested(p.target, path) or _nested(path, p.target)
    ]


def refuse_overlapping(dvlin_dir: str | os.PathLike[str], path: str) -> None:
    """Stop a commit of ``path`` while a checkout into it (or around it) is half done.

    Raises:
        ConflictError: such a checkout is pending; its files are part old, part new.
    """
    stopped = overlapping(dvlin_dir, path)
    if stopped:
        raise ConflictError(
            f"{stopped[0].target}: {stopped[0].message}",
            hint="committing now would record a half-written folder as a version",
        )


def _nested(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _read(path: str) -> PendingCheckout | None:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        return None
    # Markers are written whole (temporary name, then rename), so a readable one is complete.
    return PendingCheckout(
        asset=str(raw["asset"]),
        version=str(raw["version"]),
        version_id=str(raw["version_id"]),
        target=str(raw["target"]),
        started_at=str(raw["started_at"]),
        pid=int(raw["pid"]),
    )
