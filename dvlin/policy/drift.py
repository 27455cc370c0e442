"""Drift as a contract: ``[assets.NAME.drift]`` rules checked against the parent version.

Pure functions over two sets of profiles (path → profile): the caller finds the profiles, this
module decides. The labels' thresholds come from the repo-wide ``[drift]`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.policy.results import MAX_EXAMPLES, RuleResult, verdict
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.inspect.drift import Thresholds


@sealed
@dataclass(frozen=True, slots=True)
class DriftRules:
    """One asset's drift rules; None means no such rule."""

    max_psi: float | None = None
    max_null_increase: float | None = None
    """Largest allowed rise of a column's null fraction (0.02 = two percentage points)."""
    max_row_change: float | None = None
    """As a fraction of the parent's rows (``"20%"`` → 0.2)."""
    max_row_change_rows: int | None = None
    """As a number of rows (an integer in ``dvlin.toml``)."""
    max_centroid_shift: float | None = None
    """Largest allowed cosine distance between the centroids of an embedding."""

    def to_dict(self) -> dict[str, Any]:
        """The rules in ``dvlin.toml`` terms."""
        out: dict[str, Any] = {}
        for name in ("max_psi", "max_null_increase", "max_centroid_shift"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.max_row_change is not None:
            out["max_row_change"] = f"{self.max_row_change * 100:g}%"
        elif self.max_row_change_rows is not None:
            out["max_row_change"] = self.max_row_change_rows
        return out


def parse_rules(doc: dict[str, Any]) -> DriftRules:
    """Build the rules from a validated ``[assets.NAME.drift]`` table."""
    change = doc.get("max_row_change")
    fraction = rows = None
    if isinstance(change, str):
        fraction = float(change.strip().rstrip("%")) / 100
    elif change is not None:
        rows = int(change)
    return DriftRules(
        max_psi=doc.get("max_psi"),
        max_null_increase=doc.get("max_null_increase"),
        max_row_change=fraction,
        max_row_change_rows=rows,
        max_centroid_shift=doc.get("max_centroid_shift"),
    )


def parse_thresholds(doc: dict[str, Any] | None) -> Thresholds:
    """The low/medium/high thresholds of the repo-wide ``[drift]`` table (defaults 0.1/0.25)."""
    from dvlin.inspect.drift import Thresholds

    doc = doc or {}
    default = Thresholds()
    return Thresholds(
        psi_medium=float(doc.get("psi_medium", default.psi_medium)),
        psi_high=float(doc.get("psi_high", default.psi_high)),
        centroid_medium=float(doc.get("centroid_medium", default.centroid_medium)),
        centroid_high=float(doc.get("centroid_high", default.centroid_high)),
    )


def _rows(profiles: dict[str, dict[str, Any]]) -> int:
    return sum(int(p.get("rows") or 0) for p in profiles.values() if "columns" in p)


def drift_results(
    rules: DriftRules,
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
    *,
    against: str,
    thresholds: Thresholds | None = None,
) -> list[RuleResult]:
    """The verdict of each rule for ``after`` against ``before`` (the parent ``against``)."""
    from dvlin.inspect.drift import file_drift

    out: list[RuleResult] = []
    if rules.max_row_change is not None or rules.max_row_change_rows is not None:
        old, new = _rows(before), _rows(after)
        delta = new - old
        if rules.max_row_change is not None:
            share = abs(delta) / old if old else (0.0 if not new else float("inf"))
            out.append(
                verdict(
                    share <= rules.max_row_change,
                    "max_row_change",
                    f"rows change by at most {rules.max_row_change:.0%} vs {against}",
                    f"{old:,} → {new:,} rows ({delta:+,}, {_pct(share)})",
                    measured=share if share != float("inf") else None,
                )
            )
        else:
            assert rules.max_row_change_rows is not None
            out.append(
                verdict(
                    abs(delta) <= rules.max_row_change_rows,
                    "max_row_change",
                    f"rows change by at most {rules.max_row_change_rows:,} vs {against}",
                    f"{old:,} → {new:,} rows ({delta:+,})",
                    measured=delta,
                )
            )
    psi: list[tuple[float, str, str | None]] = []
    nulls: list[tuple[float, str, str | None]] = []
    shifts: list[tuple[float, str, str | None]] = []
    for path in sorted(set(before) & set(after)):
        d = file_drift(before[path], after[path], thresholds)
        if "embedding" in d and d["embedding"].get("comparable"):
            shifts.append((d["embedding"]["centroid_shift"], path, None))
        for c in d.get("columns", []):
            if c.get("psi") is not None:
                psi.append((c["psi"], path, c["name"]))
            nf = c["null_fraction"]
            nulls.append((nf[1] - nf[0], path, c["name"]))
            emb = c.get("embedding") or {}
            if emb.get("comparable"):
                shifts.append((emb["centroid_shift"], path, c["name"]))
    if rules.max_psi is not None:
        out.append(_worst("max_psi", psi, rules.max_psi, f"PSI at most {rules.max_psi:g}", against))
    if rules.max_null_increase is not None:
        out.append(
            _worst(
                "max_null_increase",
                nulls,
                rules.max_null_increase,
                f"null fraction rises by at most {rules.max_null_increase:g}",
                against,
                percent=True,
            )
        )
    if rules.max_centroid_shift is not None:
        out.append(
            _worst(
                "max_centroid_shift",
                shifts,
                rules.max_centroid_shift,
                f"centroid cosine shift at most {rules.max_centroid_shift:g}",
                against,
            )
        )
    return out


def _pct(x: float) -> str:
    return "∞" if x == float("inf") else f"{x:.1%}"


def _worst(
    rule: str,
    found: list[tuple[float, str, str | None]],
    limit: float,
    expected: str,
    against: str,
    *,
    percent: bool = False,
) -> RuleResult:
    expected = f"{expected} vs {against}"
    if not found:
        return verdict(True, rule, expected, "nothing to compare")
    over = sorted((f for f in found if f[0] > limit), key=lambda f: -f[0])
    value, path, column = max(found, key=lambda f: f[0])
    shown = f"{value:+.2%}" if percent else f"{value:.3g}"
    where = f"{path}:{column}" if column else path
    examples = tuple(
        {"file": p, "column": c, "value": round(v, 6)} for v, p, c in over[:MAX_EXAMPLES]
    )
    return verdict(
        not over,
        rule,
        expected,
        f"{shown} in {where}" + (f" ({len(over)} over the limit)" if len(over) > 1 else ""),
        column=column,
        file=path,
        measured=value,
        examples=examples,
    )
