"""``dvlin lock``, ``dvlin lock --check`` and ``dvlin checkout --lock``: data pinned in git.

The lock says which version each asset's folder holds (the ``workspace`` table), so it is
rewritten after every commit and checkout (:func:`sync`, called once by each). In a git work
tree the same call keeps the managed block of ``.gitignore`` listing the assets' paths.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin import lockfile
from dvlin.catalog.pins import workspace_pins
from dvlin.errors import ConflictError, NotFoundError, UsageError
from dvlin.ids import MalformedIdError, parse_oid
from dvlin.lockfile import LOCK_NAME, Pin, malformed_pin
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.ops.checkout import CheckoutResult
    from dvlin.progress import Progress
    from dvlin.repo import Repo

# ``checkout --lock`` makes the workspace match a lock that git checked out; rewriting that
# lock on the way (to add an asset it does not name, say) would dirty the git tree.
_SUSPENDED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "dvlin_lock_suspended", default=False
)


def pins(repo: Repo) -> dict[str, Pin]:
    """What the lock should say now: the version each asset's folder holds."""
    return {a: Pin(a, i, n, t) for a, i, n, t in workspace_pins(repo.catalog)}


def locked_pins(repo: Repo) -> dict[str, Pin] | None:
    """The lock's pins keyed by each asset's current name (None: there is no lock file).

    A lock from before ``dvlin mv`` (an older code commit) names the old name; it still counts.

    Raises:
        UsageError: a pin holds the id of another asset's version, or a tree digest that is
            not one of this repo's hash algorithm (a hand edit gone wrong).
    """
    from dvlin.catalog.assets import AssetStore

    locked = lockfile.read(repo.root)
    if locked is None:
        return None
    catalog = repo.catalog
    aliases = AssetStore(catalog)
    found: dict[str, Pin] = {}
    for name, pin in sorted(locked.items()):
        try:
            parse_oid(pin.tree, repo.config.hash)  # lockfile checked it is hex, not its length
        except MalformedIdError:
            raise malformed_pin(name) from None
        current = name
        if catalog.get_asset_kind(name) is None:
            current = aliases.alias_target(name) or name
        version = catalog.version(pin.id)
        if version is not None and version.asset != current:
            raise UsageError(
                f"{LOCK_NAME} pins {name} to {pin.id[:12]}, a version of {version.asset}",
                hint="restore it from git, or rewrite it with `dvlin lock`",
            )
        if current in found and found[current].id != pin.id:
            raise UsageError(
                f"{LOCK_NAME} pins {current} twice (once under its old name {name})",
                hint="restore it from git, or rewrite it with `dvlin lock`",
            )
        found[current] = Pin(current, pin.id, pin.number, pin.tree)
    return found


def sync(repo: Repo) -> None:
    """Rewrite ``dvlin.lock`` (and, under git, the ``.gitignore`` block) after a change."""
    if _SUSPENDED.get():
        return
    lockfile.write(repo.root, pins(repo).values())
    sync_gitignore(repo)


def sync_gitignore(repo: Repo) -> bool:
    """In a git work tree, make the managed ``.gitignore`` block list every asset's paths."""
    from dvlin import gitignore
    from dvlin.git import work_tree
    from dvlin.ops.asset import asset_paths

    if work_tree(repo.root) is None:
        return False
    paths = [p for a in repo.catalog.list_assets() for p in asset_paths(a)]
    return gitignore.update(repo.root, paths)


@sealed
@dataclass(frozen=True, slots=True)
class Drift:
    """Where the lock and the workspace disagree about one asset."""

    asset: str
    locked: Pin | None
    """What ``dvlin.lock`` pins (None: the lock does not name the asset)."""
    held: Pin | None
    """What the asset's folder holds (None: nothing checked out)."""
    known: bool = True
    """False when the locked version is not in this repo's catalog (pull it first)."""
    expired: bool = False
    """True when retention expired the locked version: its data is gone."""

    @property
    def message(self) -> str:
        """One line for ``dvlin status``."""
        if self.locked is None:
            assert self.held is not None
            return f"dvlin.lock does not pin {self.asset} (the workspace holds {self.held.label})"
        missing = "" if self.known else " (not in this repo: pull or commit it)"
        if self.expired:
            missing = " (expired by retention: its data is gone)"
        if self.held is None:
            return f"dvlin.lock pins {self.locked.label}{missing} but it is not checked out"
        return f"dvlin.lock pins {self.locked.label}{missing} but the workspace holds v{self.held.number}"

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "asset": self.asset,
            "locked": self.locked.to_dict() if self.locked else None,
            "workspace": self.held.to_dict() if self.held else None,
            "known": self.known,
            "expired": self.expired,
            "message": self.message,
        }


@sealed
@dataclass(frozen=True, slots=True)
class LockCheck:
    """Whether ``dvlin.lock`` says what the workspace holds."""

    exists: bool
    drift: tuple[Drift, ...]

    @property
    def ok(self) -> bool:
        """True when the lock is up to date."""
        return not self.drift

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"ok": self.ok, "exists": self.exists, "drift": [d.to_dict() for d in self.drift]}


def check(repo: Repo) -> LockCheck:
    """Compare ``dvlin.lock`` with the workspace (no lock file: every held asset drifts)."""
    locked = locked_pins(repo)
    from dvlin.catalog.usage import UsageStore

    held = pins(repo)
    wanted = locked or {}
    known = repo.catalog.version
    expired = UsageStore(repo.catalog).expired()
    drift = []
    for asset in sorted(set(wanted) | set(held)):
        lp, hp = wanted.get(asset), held.get(asset)
        if lp is not None and hp is not None and lp.id == hp.id:
            continue
        drift.append(
            Drift(
                asset,
                lp,
                hp,
                known=lp is None or known(lp.id) is not None,
                expired=lp is not None and lp.id in expired,
            )
        )
    return LockCheck(locked is not None, tuple(drift))


@sealed
@dataclass(frozen=True, slots=True)
class LockWritten:
    """What ``dvlin lock`` wrote: one pin per asset the workspace holds."""

    pins: tuple[Pin, ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"assets": [p.to_dict() for p in self.pins]}


def write(repo: Repo) -> LockWritten:
    """``dvlin lock``: write the lock from the workspace now."""
    with repo.lock():
        current = pins(repo)
        lockfile.write(repo.root, current.values())
        sync_gitignore(repo)
    return LockWritten(tuple(current.values()))


@contextlib.contextmanager
def _suspended() -> Iterator[None]:
    token = _SUSPENDED.set(True)
    try:
        yield
    finally:
        _SUSPENDED.reset(token)


@sealed
@dataclass(frozen=True, slots=True)
class LockCheckout:
    """What ``checkout --lock`` did: one checkout per asset that differed."""

    checkouts: tuple[CheckoutResult, ...]
    unchanged: tuple[str, ...]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {
            "dry_run": self.dry_run,
            "checkouts": [c.to_dict() for c in self.checkouts],
            "unchanged": list(self.unchanged),
        }


def checkout_lock(
    repo: Repo,
    *,
    force: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> LockCheckout:
    """Make every asset the lock names hold the locked version, in its own folder.

    Everything is checked before anything is written: every locked version must be in the
    catalog, and no asset may have uncommitted changes that a checkout would lose (unless
    ``force``).

    Raises:
        UsageError: the lock is malformed, or pins an asset to another asset's version.
        NotFoundError: there is no lock, or it pins a version this repo does not have.
        ConflictError: uncommitted changes would be lost (lists them); use ``force``.
    """
    from dvlin.ops.checkout import checkout

    locked = locked_pins(repo)
    if locked is None:
        raise NotFoundError(
            f"{repo.root.name} has no {LOCK_NAME}",
            hint="`dvlin lock` writes one from the workspace",
        )
    held = pins(repo)
    todo = [p for a, p in sorted(locked.items()) if held.get(a) is None or held[a].id != p.id]
    for p in todo:
        if repo.catalog.version(p.id) is None:
            raise NotFoundError(
                f"{LOCK_NAME} pins {p.label} ({p.id[:12]}), which this repo does not have",
                hint="pull it from a remote, or commit the data it names",
            )
    plans = [checkout(repo, p.id, dry_run=True) for p in todo]
    lost = [
        f"{p.asset}: {path}" for p, plan in zip(todo, plans, strict=True) for path in plan.discarded
    ]
    if lost and not force and not dry_run:
        shown = ", ".join(lost[:10]) + (f" and {len(lost) - 10} more" if len(lost) > 10 else "")
        raise ConflictError(
            f"uncommitted changes that checking out the lock would overwrite: {shown}",
            hint="commit them, or use --force to discard them",
            paths=lost,
        )
    unchanged = tuple(a for a in sorted(locked) if a not in {p.asset for p in todo})
    if dry_run:
        return LockCheckout(tuple(plans), unchanged, dry_run=True)
    done = []
    with _suspended():
        for p in todo:
            done.append(checkout(repo, p.id, force=force, progress=progress))
    return LockCheckout(tuple(done), unchanged, dry_run=False)
