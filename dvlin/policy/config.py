"""``dvlin.toml``: per-asset policies, validated against the JSON Schema shipped with dvlin."""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from dvlin.errors import UsageError
from dvlin.policy.drift import DriftRules
from dvlin.policy.drift import parse_rules as parse_drift
from dvlin.values import sealed

POLICY_FILE = "dvlin.toml"
COMPATIBILITY_MODES = (
    "none",
    "backward",
    "forward",
    "full",
    "backward_transitive",
    "forward_transitive",
    "full_transitive",
)
_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}


@sealed
@dataclass(frozen=True, slots=True)
class Quality:
    """The quality rules of one asset; every field unset means "no such rule"."""

    min_rows: int | None = None
    max_rows: int | None = None
    not_null: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    """Each entry is one column, or several that must be unique together."""
    max_null_fraction: dict[str, float] = field(default_factory=dict)
    range: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    allowed: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pattern: dict[str, str] = field(default_factory=dict)
    fresh_within: dict[str, float] = field(default_factory=dict)
    """Column → seconds."""
    vector_column: str | None = None
    dim: int | None = None
    dtype: str | None = None
    finite: bool = False
    unit_norm: float | None = None
    """Tolerance of ``| ‖v‖ − 1 |``; None means no unit-norm rule."""
    min_count: int | None = None
    max_file_size: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    required_files: tuple[str, ...] = ()

    @property
    def has_table_rules(self) -> bool:
        """True when some rule looks inside tables."""
        return bool(
            self.min_rows is not None
            or self.max_rows is not None
            or self.not_null
            or self.unique
            or self.max_null_fraction
            or self.range
            or self.allowed
            or self.pattern
            or self.fresh_within
        )

    @property
    def has_embedding_rules(self) -> bool:
        """True when some rule looks at embedding vectors."""
        return bool(
            self.dim is not None
            or self.dtype is not None
            or self.finite
            or self.unit_norm is not None
            or self.min_count is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """The set rules, in ``dvlin.toml`` terms (durations in seconds, sizes in bytes)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is None or value == () or value == {} or value is False:
                continue
            if name == "unique":
                value = [list(cols) for cols in value]
            elif name == "range":
                value = {k: list(v) for k, v in value.items()}
            elif name == "allowed":
                value = {k: list(v) for k, v in value.items()}
            elif name == "fresh_within":
                value = {k: format_duration(v) for k, v in value.items()}
            elif name == "unit_norm":
                value = {"tolerance": value}
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


@sealed
@dataclass(frozen=True, slots=True)
class AssetPolicy:
    """Everything ``dvlin.toml`` says about one asset."""

    name: str
    kind: str | None = None
    path: str | None = None
    owner: str | None = None
    schema_file: str | None = None
    """The record JSON Schema's path, relative to the repo root."""
    schema: dict[str, Any] | bool | None = None
    """The loaded record JSON Schema (checked against the 2020-12 metaschema)."""
    compatibility: str = "none"
    quality: Quality = field(default_factory=Quality)
    retention: dict[str, Any] | None = None
    """This asset's ``[assets.NAME.retention]`` table, as written."""
    drift: DriftRules | None = None
    """This asset's ``[assets.NAME.drift]`` rules, checked against the parent version."""
    storage_group: str | None = None
    """On remotes, the asset's objects and records live under ``groups/NAME/`` (access control)."""

    def to_dict(self) -> dict[str, Any]:
        """The effective policy: the ``--json`` shape of ``dvlin policy show``."""
        return {
            "asset": self.name,
            "kind": self.kind,
            "path": self.path,
            "owner": self.owner,
            "schema": self.schema_file,
            "compatibility": self.compatibility,
            "quality": self.quality.to_dict(),
            "retention": self.retention,
            "drift": self.drift.to_dict() if self.drift is not None else None,
            "storage_group": self.storage_group,
        }


@sealed
@dataclass(frozen=True, slots=True)
class Policy:
    """All assets' policies, from one ``dvlin.toml`` (empty when there is none)."""

    source: str | None
    assets: dict[str, AssetPolicy] = field(default_factory=dict)
    retention: dict[str, Any] | None = None
    """The repo-wide ``[retention]`` defaults, as written."""
    drift: dict[str, Any] | None = None
    """The repo-wide ``[drift]`` table (the thresholds of drift labels), as written."""

    def get(self, name: str) -> AssetPolicy | None:
        """The policy of asset ``name``, if it has one."""
        return self.assets.get(name)


@cache
def policy_file_schema() -> dict[str, Any]:
    """The JSON Schema that ``dvlin.toml`` must satisfy (shipped inside the package)."""
    from importlib.resources import files

    text = files("dvlin.policy").joinpath("dvlin.schema.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def load_policy(root: Path) -> Policy:
    """Read and validate ``ROOT/dvlin.toml``; no file means no policies.

    Raises:
        UsageError: the file, or a record schema it names, is malformed (exit 2); the
            message names the file, the key path and what was expected.
    """
    path = root / POLICY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Policy(None)
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text", hint="save dvlin.toml as UTF-8") from None
    except OSError as exc:
        from dvlin.errors import FileSystemError

        raise FileSystemError.from_os(exc, action="read", path=path) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: {exc}", hint="fix the TOML syntax") from None
    return parse_policy(doc, source=str(path), root=root)


def parse_policy(doc: dict[str, Any], *, source: str, root: Path) -> Policy:
    """Validate a parsed ``dvlin.toml`` document and build the policies."""
    _validate(doc, source)
    assets: dict[str, AssetPolicy] = {}
    for name, entry in doc.get("assets", {}).items():
        where = f"assets.{name}"
        schema_file = entry.get("schema")
        schema = _load_record_schema(root, schema_file, source, where) if schema_file else None
        assets[name] = AssetPolicy(
            name=name,
            kind=entry.get("kind"),
            path=entry.get("path"),
            owner=entry.get("owner"),
            schema_file=schema_file,
            schema=schema,
            compatibility=entry.get("compatibility", "none"),
            quality=_quality(entry.get("quality", {}), source, f"{where}.quality"),
            retention=entry.get("retention"),
            drift=parse_drift(entry["drift"]) if "drift" in entry else None,
            storage_group=entry.get("storage_group"),
        )
    return Policy(source, assets, retention=doc.get("retention"), drift=doc.get("drift"))


def _validate(doc: dict[str, Any], source: str) -> None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(policy_file_schema())
    error = best_match(validator.iter_errors(doc))
    if error is None:
        return
    keys = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known)) if isinstance(error.instance, dict) else []
        bad = extra[0] if extra else "?"
        close = difflib.get_close_matches(bad, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        raise UsageError(
            f"{source}: {'.'.join([*keys, bad])}: unknown key; expected one of {', '.join(known)}",
            hint=hint,
        )
    key = ".".join(keys) or "(top level)"
    raise UsageError(
        f"{source}: {key}: expected {_expected(error)}, found {error.instance!r}",
        hint="see docs/policy.md for every key and its type",
    )


def _expected(error: Any) -> str:
    """What the failing keyword wanted, in words."""
    kw, want = error.validator, error.validator_value
    if kw == "type":
        return " or ".join(want) if isinstance(want, list) else str(want)
    if kw == "enum":
        return "one of " + ", ".join(repr(v) for v in want)
    if kw == "pattern" and error.schema is not None:
        return f"a string matching {want}"
    if kw in ("minimum", "maximum", "exclusiveMinimum"):
        return f"a number with {kw} {want}"
    if kw == "oneOf":
        kinds = [s.get("type", "?") for s in want]
        return " or ".join(str(k) for k in kinds)
    if kw in ("minItems", "maxItems"):
        return f"an array with {kw} {want}"
    return f"{kw}: {json.dumps(want)}"


def _load_record_schema(
    root: Path, schema_file: str, source: str, where: str
) -> dict[str, Any] | bool:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    path = root / schema_file
    try:
        doc: dict[str, Any] | bool = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{source}: {where}.schema: {schema_file} does not exist",
            hint="the path is relative to the folder holding dvlin.toml",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{source}: {where}.schema: {schema_file} is not valid JSON ({exc})",
            hint="fix the JSON Schema file",
        ) from None
    try:
        Draft202012Validator.check_schema(doc)
    except SchemaError as exc:
        inner = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise UsageError(
            f"{source}: {where}.schema: {schema_file} at {inner} is not a valid JSON Schema "
            f"2020-12: {exc.message}",
            hint="check the keyword against https://json-schema.org/draft/2020-12",
        ) from None
    return doc


def _quality(q: dict[str, Any], source: str, where: str) -> Quality:
    for column, regex in q.get("pattern", {}).items():
        try:
            re.compile(regex)
        except re.error as exc:
            raise UsageError(
                f"{source}: {where}.pattern.{column}: expected a regular expression, "
                f"found {regex!r} ({exc})",
                hint="fix the pattern",
            ) from None
    for column, (low, high) in q.get("range", {}).items():
        if low is not None and high is not None and low > high:
            raise UsageError(
                f"{source}: {where}.range.{column}: expected [min, max] with min <= max, "
                f"found [{low}, {high}]",
                hint="swap the bounds",
            )
    unit = q.get("unit_norm")
    tolerance = (
        None
        if unit is None or unit is False
        else 1e-3
        if unit is True
        else float(unit.get("tolerance", 1e-3))
    )
    return Quality(
        min_rows=q.get("min_rows"),
        max_rows=q.get("max_rows"),
        not_null=tuple(q.get("not_null", ())),
        unique=tuple((u,) if isinstance(u, str) else tuple(u) for u in q.get("unique", ())),
        max_null_fraction={k: float(v) for k, v in q.get("max_null_fraction", {}).items()},
        range={k: (v[0], v[1]) for k, v in q.get("range", {}).items()},
        allowed={k: tuple(v) for k, v in q.get("allowed", {}).items()},
        pattern=dict(q.get("pattern", {})),
        fresh_within={k: parse_duration(v) for k, v in q.get("fresh_within", {}).items()},
        vector_column=q.get("vector_column"),
        dim=q.get("dim"),
        dtype=q.get("dtype"),
        finite=bool(q.get("finite", False)),
        unit_norm=tolerance,
        min_count=q.get("min_count"),
        max_file_size=parse_size(q["max_file_size"]) if "max_file_size" in q else None,
        include=tuple(q.get("include", ())),
        exclude=tuple(q.get("exclude", ())),
        required_files=tuple(q.get("required_files", ())),
    )


def check_duration(text: str, *, flag: str) -> str:
    """Validate a duration given on the command line (``90d``, ``12h``, ``2w``)."""
    if not re.fullmatch(rf"[0-9]+(\.[0-9]+)?[{''.join(_DURATION)}]", text):
        raise UsageError(f"{flag} expects a duration like 90d, 12h or 2w, got {text!r}")
    return text


def parse_duration(text: str) -> float:
    """``"2d"`` → 172800.0 seconds (units s, m, h, d, w)."""
    return float(text[:-1]) * _DURATION[text[-1]]


def parse_size(value: int | str) -> int:
    """``"10 MiB"`` → 10485760; an integer is bytes already."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?) ?([A-Za-z]+)", value)
    assert m is not None  # the shipped schema's pattern guarantees the shape
    return int(float(m.group(1)) * _SIZE[m.group(2)])


def format_duration(seconds: float) -> str:
    """172800 → ``2d``; for messages."""
    for unit in ("w", "d", "h", "m"):
        size = _DURATION[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds:.0f}s"
