"""The repo's ``.dvlin/config.toml``, read into a frozen dataclass."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from dvlin.errors import DvlinError, UsageError
from dvlin.objects.hashing import ALGORITHMS
from dvlin.values import sealed

CONFIG_FORMAT = 1


@sealed
@dataclass(frozen=True, slots=True)
class RepoConfig:
    """Settings fixed at ``dvlin init`` (hash, repo id) and a few that may be edited."""

    repo_id: str
    hash: str
    storage: str = ""
    """fsspec URL of the object store; empty means ``.dvlin/objects`` inside the repo."""
    fsync: bool = True
    """Flush objects to stable storage before the catalog references them."""

    def to_toml(self) -> str:
        """Render the file ``dvlin init`` writes."""
        import tomli_w

        doc = {
            "core": {"format": CONFIG_FORMAT, "repo_id": self.repo_id, "hash": self.hash},
            "storage": {"url": self.storage, "fsync": self.fsync},
        }
        header = (
            "# dvlin repository settings. `hash` is fixed at init; `storage.url` is any fsspec\n"
            "# URL (empty = .dvlin/objects). Credentials never go here: use the environment.\n"
        )
        return header + tomli_w.dumps(doc)


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
    fmt = core.get("format", CONFIG_FORMAT)
    if fmt != CONFIG_FORMAT:
        raise UsageError(
            f"{path}: config format {fmt!r} is newer than this dvlin understands",
            hint="upgrade dvlin",
        )
    return RepoConfig(
        repo_id=str(need(core, "repo_id", str, "core")),
        hash=algorithm,
        storage=str(storage.get("url", "")),
        fsync=bool(storage.get("fsync", True)),
    )


def _unreadable(path: Path, exc: OSError | UnicodeDecodeError) -> DvlinError:
    from dvlin.errors import FileSystemError

    if isinstance(exc, UnicodeDecodeError):
        return UsageError(f"{path} is not UTF-8 text", hint="restore the file written by dvlin")
    return FileSystemError.from_os(exc, action="read", path=path)
