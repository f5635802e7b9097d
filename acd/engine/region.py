"""Region and named-number routing rules (ACD-4).

The caller's province/city come as plain data (the controller looks them up from the
number with ``phonenumbers``); this module only matches rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from .snapshots import Region, RegionRule


def rule_matches(rule: RegionRule, caller_number: str, region: Region | None) -> bool:
    """A named number matches exactly; otherwise the province must equal the caller's,
    and the city too when the rule names one. A rule with neither never matches."""
    if rule.numbers and caller_number in rule.numbers:
        return True
    if rule.province is None or region is None or rule.province != region.province:
        return False
    return rule.city is None or rule.city == region.city


def match_region_rule(
    rules: Sequence[RegionRule], caller_number: str, region: Region | None
) -> RegionRule | None:
    """The first matching rule, by precedence: named numbers, then city rules, then
    province rules; within one kind the configured order."""

    def kind(rule: RegionRule) -> int:
        if rule.numbers and caller_number in rule.numbers:
            return 0
        return 1 if rule.city is not None else 2

    best: RegionRule | None = None
    best_kind = 3
    for rule in rules:
        if rule_matches(rule, caller_number, region):
            k = kind(rule)
            if k < best_kind:
                best, best_kind = rule, k
    return best
