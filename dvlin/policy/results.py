"""The outcome of one rule on one asset: a value the core returns and a version stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dvlin.values import sealed
from dvlin.wording import human_bytes as human_bytes

MAX_EXAMPLES = 5
"""Failures carry at most this many examples: enough to find the rows, never the table."""


@sealed
@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict: what was expected, what was measured, and a few examples."""

    rule: str
    passed: bool
    expected: str
    found: str
    column: str | None = None
    file: str | None = None
    """The file the result is about (relative to the asset's folder), if it is about one."""
    measured: Any = None
    """The number behind ``found`` (a count, a fraction, seconds), for machines."""
    examples: tuple[Any, ...] = field(default_factory=tuple)
    """A few failing values, e.g. ``{"row": 17, "value": -4}``."""

    def to_dict(self) -> dict[str, Any]:
        """The stable ``--json`` shape; also what a version stores in ``info["checks"]``."""
        return {
            "rule": self.rule,
            "passed": self.passed,
            "column": self.column,
            "file": self.file,
            "expected": self.expected,
            "found": self.found,
            "measured": self.measured,
            "examples": list(self.examples),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuleResult:
        """Rebuild a stored result."""
        return cls(
            rule=d["rule"],
            passed=bool(d["passed"]),
            expected=d.get("expected", ""),
            found=d.get("found", ""),
            column=d.get("column"),
            file=d.get("file"),
            measured=d.get("measured"),
            examples=tuple(d.get("examples", ())),
        )


def passed(rule: str, expected: str, found: str, **kwargs: Any) -> RuleResult:
    """A passing result."""
    return RuleResult(rule, True, expected, found, **kwargs)


def failed(rule: str, expected: str, found: str, **kwargs: Any) -> RuleResult:
    """A failing result."""
    return RuleResult(rule, False, expected, found, **kwargs)


def verdict(ok: bool, rule: str, expected: str, found: str, **kwargs: Any) -> RuleResult:
    """A result that passes when ``ok``."""
    return RuleResult(rule, ok, expected, found, **kwargs)


def jsonable(value: Any) -> Any:
    """A Python value from Arrow as something JSON can hold (for examples)."""
    import datetime
    import decimal

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value[:32].hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value[:8]]
    return str(value)[:100]
