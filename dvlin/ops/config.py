"""``dvlin config get/set/list``: read and edit ``.dvlin/config.toml`` safely.

An edit is validated by loading the edited file with :func:`dvlin.config.load_config` — the
same code every command uses to read it — before it replaces the file, so ``config set``
can never leave a config that the next command refuses. Every change is an audit entry.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import takewhile
from typing import TYPE_CHECKING, Any

from dvlin.config import check_chunker, load_config
from dvlin.errors import UsageError
from dvlin.objects.cdc import LEGACY_CHUNKER
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class Setting:
    """A key dvlin knows: its type, default, whether it may change after init, and why."""

    key: str
    type: type
    default: Any
    editable: bool
    help: str


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("core.format", int, 1, False, "config file format"),
        Setting("core.repo_id", str, "", False, "the repo's id, fixed at init"),
        Setting("core.hash", str, "xxh3-128", False, "hash algorithm, fixed at init"),
        Setting(
            "core.chunker",
            str,
            LEGACY_CHUNKER,
            True,
            "how big files are cut into chunks (fastcdc-2016 or fastcdc-2020; new repos use "
            "fastcdc-2020); a change costs the next commit of each big file its shared chunks",
        ),
        Setting("storage.url", str, "", True, "fsspec URL of the object store (empty: local)"),
        Setting("storage.fsync", bool, True, True, "flush objects to disk before recording them"),
    )
}


@sealed
@dataclass(frozen=True, slots=True)
class ConfigValue:
    """One key and its value (``is_set`` is False when the file leaves it at its default)."""

    key: str
    value: Any
    is_set: bool

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"key": self.key, "value": self.value, "set": self.is_set}


@sealed
@dataclass(frozen=True, slots=True)
class ConfigChange:
    """What ``config set`` changed."""

    key: str
    old: Any
    new: Any
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape."""
        return {"key": self.key, "old": self.old, "new": self.new, "changed": self.changed}


def _path(repo: Repo) -> Any:
    return repo.dvlin_dir / "config.toml"


def _read(repo: Repo) -> dict[str, Any]:
    load_config(_path(repo))  # a malformed file is reported as every command reports it
    return tomllib.loads(_path(repo).read_text(encoding="utf-8"))


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in doc.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, full + ".")
        else:
            yield full, value


def _known(doc: Mapping[str, Any]) -> list[str]:
    return sorted(set(SETTINGS) | {k for k, _ in _flatten(doc)})


def _unknown(key: str, known: list[str]) -> UsageError:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return UsageError(
        f"unknown config key {key!r}",
        hint=f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}",
    )


def _lookup(doc: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    node: Any = doc
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def list_config(repo: Repo) -> list[ConfigValue]:
    """Every known key with its value, defaults included, sorted by key."""
    doc = _read(repo)
    rows = []
    for key in _known(doc):
        found, value = _lookup(doc, key)
        if found and isinstance(value, Mapping):
            continue
        rows.append(ConfigValue(key, value if found else SETTINGS[key].default, found))
    return rows


def get_config(repo: Repo, key: str) -> ConfigValue:
    """One key's value (its default when the file does not set it).

    Raises:
        UsageError: an unknown key (with the closest known one).
    """
    doc = _read(repo)
    found, value = _lookup(doc, key)
    if found and not isinstance(value, Mapping):
        return ConfigValue(key, value, True)
    if key in SETTINGS:
        return ConfigValue(key, SETTINGS[key].default, False)
    raise _unknown(key, _known(doc))


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _parse(key: str, text: str, kind: type) -> Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise UsageError(
            f"{key} takes true or false, not {text!r}", hint=f"dvlin config set {key} true"
        )
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"{key} takes a whole number, not {text!r}") from None
    return text


def _check_value(key: str, value: Any) -> None:
    if key == "core.chunker":
        check_chunker(value)  # here, not in the edited copy's load: its message names the copy
    if key == "storage.url" and value:
        from dvlin.repo import _check_storage_url  # credentials, then whether fsspec opens it

        _check_storage_url(str(value))


def _refuse_orphaning(repo: Repo, url: str) -> None:
    """Refuse a new storage URL that lacks the manifests of versions the current store holds.

    Moving the store is copying its objects first; a bare switch would leave every version
    pointing at bytes the new store does not have.
    """
    from dvlin.catalog.gc import GcStore
    from dvlin.errors import ConflictError
    from dvlin.objects.store import ObjectStore

    expired = GcStore(repo.catalog).expired()
    versions = [v for v in repo.catalog.versions() if v.id not in expired]
    if not versions:
        return
    if url:
        target = ObjectStore.from_url(url, algorithm=repo.config.hash, fsync=False)
    else:
        target = ObjectStore.local(str(repo.dvlin_dir / "objects"), algorithm=repo.config.hash)
    current = repo.store
    missing = [v for v in versions if not target.has(v.manifest) and current.has(v.manifest)]
    if missing:
        where = url or "the local store"
        raise ConflictError(
            f"{len(missing)} version{'s' if len(missing) != 1 else ''} would lose "
            f"{'its' if len(missing) == 1 else 'their'} objects: "
            f"{where} does not hold {missing[0].label}'s manifest",
            hint="copy the current store's objects there first, then set storage.url again; "
            "nothing was changed",
        )


def set_config(repo: Repo, key: str, text: str) -> ConfigChange:
    """Set ``key`` to ``text`` (parsed as the key's type), validated and audited.

    Raises:
        UsageError: an unknown key, a key fixed at init, or a value the config refuses.
    """
    import tomli_w

    with repo.lock():
        doc = _read(repo)
        found, old = _lookup(doc, key)
        setting = SETTINGS.get(key)
        if setting is None and (not found or isinstance(old, Mapping)):
            raise _unknown(key, _known(doc))
        if setting is not None and not setting.editable:
            raise UsageError(
                f"{key} cannot change after init ({setting.help})",
                hint="make a new repo to use another value",
            )
        kind = setting.type if setting is not None else type(old)
        new = _parse(key, text, kind)
        _check_value(key, new)
        if key == "storage.url":
            _refuse_orphaning(repo, str(new))
        current = old if found else (setting.default if setting else None)
        if found and current == new:
            return ConfigChange(key, current, new, changed=False)
        node = doc
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = new
        path = _path(repo)
        lines = path.read_text(encoding="utf-8").splitlines()
        header = "".join(line + "\n" for line in takewhile(lambda t: t.startswith("#"), lines))
        tmp = path.with_name(f".config.toml.{uuid.uuid4().hex[:8]}")
        try:
            tmp.write_text(header + tomli_w.dumps(doc), encoding="utf-8")
            load_config(tmp)  # the same validation as every command's load
            with repo.change("config-set", key) as tx:
                tx.audit(details={"old": current, "new": new})
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return ConfigChange(key, current, new, changed=True)
