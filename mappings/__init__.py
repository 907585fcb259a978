"""Declarative mapping rules (YAML + jsonpath-ng): raw payload -> observations, deltas, order events."""

from mappings.engine import DEFAULT_DIR, MappingResult, Rule, RuleBook, RuleError, load_file, load_rules

FIXTURES_DIR = DEFAULT_DIR.parent / "fixtures"

__all__ = ["DEFAULT_DIR", "FIXTURES_DIR", "MappingResult", "Rule", "RuleBook", "RuleError", "load_file", "load_rules"]
