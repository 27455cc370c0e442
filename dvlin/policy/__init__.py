"""Contracts: ``dvlin.toml`` policies, record schemas, compatibility and quality rules.

Pure functions and accumulators: values (record batches, schemas, file lists) in, rule
results out. :mod:`dvlin.policy.runner` reads an asset's files and feeds them to the rules;
finding those files and earlier versions in a repo is the job of :mod:`dvlin.ops.check`.
"""

from dvlin.policy.config import AssetPolicy, Policy, Quality, load_policy
from dvlin.policy.results import RuleResult

__all__ = ["AssetPolicy", "Policy", "Quality", "RuleResult", "load_policy"]
