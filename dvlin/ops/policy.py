"""``dvlin policy show``: the effective policy of an asset, as ``dvlin.toml`` defines it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dvlin.errors import NotFoundError
from dvlin.policy.config import AssetPolicy, load_policy
from dvlin.values import sealed

if TYPE_CHECKING:
    from dvlin.repo import Repo


@sealed
@dataclass(frozen=True, slots=True)
class PolicyShow:
    """The policies asked for, defaults filled in, and the file they come from."""

    source: str | None
    policies: tuple[AssetPolicy, ...]
    one: bool
    """True when one asset was named: ``--json`` is then that policy, not a list."""

    def to_dict(self) -> Any:
        """The ``--json`` shape: one policy's dict, or a list of them."""
        docs = [p.to_dict() for p in self.policies]
        return docs[0] if self.one else docs


def show(repo: Repo, name: str | None = None) -> PolicyShow:
    """The effective policy of asset ``name``, or of every asset with a policy.

    Raises:
        NotFoundError: ``name`` has no policy in ``dvlin.toml`` (exit 3).
    """
    policy = load_policy(repo.root)
    if name is None:
        return PolicyShow(
            policy.source, tuple(policy.assets[k] for k in sorted(policy.assets)), one=False
        )
    found = policy.get(name)
    if found is None:
        raise NotFoundError(
            f"asset {name!r} has no policy in dvlin.toml",
            hint=f"policies: {', '.join(sorted(policy.assets)) or 'none'}",
            candidates=sorted(policy.assets),
        )
    return PolicyShow(policy.source, (found,), one=True)
