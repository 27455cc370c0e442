"""The repo's ``.dvlin/config.toml``, read into a frozen dataclass."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dvlin.errors import DvlinError, UsageError
from dvlin.objects.cdc import CHUNKERS, LEGACY_CHUNKER
from dvlin.objects.hashing import ALGORITHMS
from dvlin.values import sealed

CONFIG_FORMAT = 1
DVLIN_DIR = ".dvlin"
"""The folder at a repo's root that holds its config, catalog and local objects."""


def check_chunker(value: object, *, where: str = "") -> str:
    """``value`` as a chunker name (one of :data:`~dvlin.objects.cdc.CHUNKERS`).

    Raises:
        UsageError: anything else; ``where`` (the config file's path) leads the message.
    """
    if isinstance(value, str) and value in CHUNKERS:
        return value
    raise UsageError(
        f"{where}core.chunker {value!r} is not supported", hint=f"one of {', '.join(CHUNKERS)}"
    )


def find_root(start: str | os.PathLike[str] = ".") -> Path | None:
    """The nearest folder at or above ``start`` whose ``.dvlin/`` holds a config, or None."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / DVLIN_DIR / "config.toml").is_file():
            return folder
    return None


@sealed
@dataclass(frozen=True, slots=True)
class RepoConfig:
    """Settings fixed at ``dvlin init`` (hash, repo id) and a few that may be edited."""

    repo_id: str
    hash: str
    chunker: str = LEGACY_CHUNKER
    """How big files are cut into chunks (:data:`~dvlin.objects.cdc.CHUNKERS`); a config that
    names none is a repo made before the choice was recorded."""
    storage: str = ""
    """fsspec URL of the object store; empty means ``.dvlin/objects`` inside the repo."""
    fsync: bool = True
    """Flush objects to stable storage before the catalog references them."""
    remotes: tuple[RemoteConfig, ...] = field(default_factory=tuple)
    """Named remotes (``[remotes.NAME]``), sorted by name."""

    def remote(self, name: str | None) -> RemoteConfig | None:
        """The remote called ``name``, or the default remote when ``name`` is None."""
        for r in self.remotes:
            if (name is None and r.default) or r.name == name:
                return r
        if name is None and len(self.remotes) == 1:
            return self.remotes[0]
        return None

    def with_remotes(self, remotes: tuple[RemoteConfig, ...]) -> RepoConfig:
        """The same settings with another set of remotes."""
        return replace(self, remotes=tuple(sorted(remotes, key=lambda r: r.name)))

    def to_toml(self) -> str:
        """Render the file ``dvlin init`` writes."""
        import tomli_w

        doc: dict[str, Any] = {
            "core": {
                "format": CONFIG_FORMAT,
                "repo_id": self.repo_id,
                "hash": self.hash,
                "chunker": self.chunker,
            },
            "storage": {"url": self.storage, "fsync": self.fsync},
        }
        if self.remotes:
            doc["remotes"] = {r.name: r.to_toml_table() for r in self.remotes}
        header = (
            "# dvlin repository settings. `hash` is fixed at init; `chunker` cuts big files (a\n"
            "# change costs the next commit of each big file its shared chunks); `storage.url`\n"
            "# is any fsspec URL (empty = .dvlin/objects). Credentials never go here: use the\n"
            "# environment.\n"
        )
        return header + tomli_w.dumps(doc)


@sealed
@dataclass(frozen=True, slots=True)
class RemoteConfig:
    """A named remote: an fsspec URL and the options passed to its filesystem (no secrets)."""

    name: str
    url: str
    options: Mapping[str, Any] = field(default_factory=dict)
    default: bool = False
    groups: Mapping[str, str] = field(default_factory=dict)
    """Storage group → URL of the store that keeps that group's files (another bucket)."""

    def to_toml_table(self) -> dict[str, Any]:
        """The ``[remotes.NAME]`` table."""
        table: dict[str, Any] = {"url": self.url}
        if self.default:
            table["default"] = True
        if self.options:
            table["options"] = dict(self.options)
        if self.groups:
            table["groups"] = dict(self.groups)
        return table


def save_config(path: Path, config: RepoConfig) -> None:
    """Rewrite ``config.toml`` atomically (a temporary file beside it, then rename)."""
    import os
    import uuid

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(config.to_toml(), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _load_remotes(path: Path, table: object) -> tuple[RemoteConfig, ...]:
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [remotes] must be a table", hint="see docs/remotes.md")
    remotes = []
    for name, body in table.items():
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            raise UsageError(
                f"{path}: remotes.{name}.url must be a string", hint="see docs/remotes.md"
            )
        options = body.get("options", {})
        if not isinstance(options, dict):
            raise UsageError(f"{path}: remotes.{name}.options must be a table", hint=None)
        groups = body.get("groups", {})
        if not isinstance(groups, dict) or not all(isinstance(u, str) for u in groups.values()):
            raise UsageError(f"{path}: remotes.{name}.groups must map names to URLs", hint=None)
        remotes.append(
            RemoteConfig(name, body["url"], options, bool(body.get("default", False)), groups)
        )
    return tuple(sorted(remotes, key=lambda r: r.name))


def load_config(path: Path) -> RepoConfig:
    """Read and validate ``config.toml``; a malformed file is a usage error naming the key."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing", hint="the repo is damaged; re-create it") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}", hint="fix the TOML syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None
    core = doc.get("core", {})
    storage = doc.get("storage", {})

    def need(table: dict[str, object], key: str, kind: type, where: str) -> object:
        value = table.get(key)
        if not isinstance(value, kind):
            raise UsageError(
                f"{path}: {where}.{key} must be a {kind.__name__}, found {value!r}",
                hint="restore the value written by `dvlin init`",
            )
        return value

    algorithm = str(need(core, "hash", str, "core"))
    if algorithm not in ALGORITHMS:
        raise UsageError(
            f"{path}: core.hash {algorithm!r} is not supported",
            hint=f"one of {', '.join(ALGORITHMS)}",
        )
    chunker = check_chunker(core.get("chunker", LEGACY_CHUNKER), where=f"{path}: ")
    fmt = core.get("format", CONFIG_FORMAT)
    if fmt != CONFIG_FORMAT:
        raise UsageError(
            f"{path}: config format {fmt!r} is newer than this dvlin understands",
            hint="upgrade dvlin",
        )
    return RepoConfig(
        repo_id=str(need(core, "repo_id", str, "core")),
        hash=algorithm,
        chunker=chunker,
        storage=str(storage.get("url", "")),
        fsync=bool(storage.get("fsync", True)),
        remotes=_load_remotes(path, doc.get("remotes", {})),
    )


def _unreadable(path: Path, exc: OSError | UnicodeDecodeError) -> DvlinError:
    from dvlin.errors import FileSystemError

    if isinstance(exc, UnicodeDecodeError):
        return UsageError(f"{path} is not UTF-8 text", hint="restore the file written by dvlin")
    return FileSystemError.from_os(exc, action="read", path=path)
