"""Arbitration: declared rules that settle disagreements between sources about one stock cell."""

from conflict_rules.engine import arbitrate
from conflict_rules.model import Claim, Decision, Outcome, RuleSet
from conflict_rules.rules import DEFAULT_DIR, DEFAULT_FILE, RulesError, check, load_rules

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_FILE",
    "Claim",
    "Decision",
    "Outcome",
    "RuleSet",
    "RulesError",
    "arbitrate",
    "check",
    "load_rules",
]
