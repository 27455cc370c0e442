"""Contracts: ``dvlin.toml`` policies, record schemas, compatibility and quality rules.

Pure functions and accumulators: values (record batches, schemas, file lists) in, rule
results out. Reading files and the catalog is the job of :mod:`dvlin.ops.check`.
"""

from dvlin.policy.config import AssetPolicy, Policy, Quality, load_policy
from dvlin.policy.results import RuleResult

__all__ = ["AssetPolicy", "Policy", "Quality", "RuleResult", "load_policy"]
