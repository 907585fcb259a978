"""Claims, rule sets and decisions: the vocabulary of arbitration (pure data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from semantic_layer.dictionary import SemanticDictionary, Tolerance
from semantic_layer.observation import Observation, to_utc

Outcome = Literal["settled", "quarantine", "no_change"]


@dataclass(frozen=True)
class Claim:
    """One source's figure for the cell being arbitrated, with how much that source is trusted."""

    source: str
    stock_type: str
    value: int
    observed_at: datetime
    trust: int
    tolerance: Tolerance | None = None  # None: the rule set's default tolerance
    observation_id: int | None = None  # lineage: the hub's observation row
    raw_event_id: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.trust <= 100:
            raise ValueError(f"claim from {self.source}: trust must be 0..100, got {self.trust}")
        object.__setattr__(self, "observed_at", to_utc(self.observed_at, "observed_at"))

    @classmethod
    def from_observation(
        cls,
        obs: Observation,
        dictionary: SemanticDictionary,
        *,
        observation_id: int | None = None,
        trust: int | None = None,
        tolerance: Tolerance | None = None,
    ) -> Claim:
        """A claim with the source's trust and tolerance from the dictionary unless given."""
        return cls(
            source=obs.source,
            stock_type=obs.stock_type,
            value=obs.quantity,
            observed_at=obs.observed_at,
            trust=dictionary.trust(obs.source) if trust is None else trust,
            tolerance=dictionary.tolerance(obs.source) if tolerance is None else tolerance,
            observation_id=observation_id,
            raw_event_id=obs.raw_event_id,
        )

    def sort_key(self) -> tuple[str, datetime, int, int, int, int]:
        """A total order on claims, so every decision is independent of input order."""
        oid = -1 if self.observation_id is None else self.observation_id
        rid = -1 if self.raw_event_id is None else self.raw_event_id
        return (self.source, self.observed_at, oid, rid, self.value, self.trust)


@dataclass(frozen=True)
class RuleSet:
    id: str
    version: str
    trust_threshold: int
    clock_skew: timedelta
    default_tolerance: Tolerance
    classes: dict[str, tuple[str, ...]]  # class -> source names
    authority: dict[str, tuple[str, ...]]  # stock type -> source names or classes
    priority: tuple[str, ...]  # classes (or source names), highest first
    description: str = ""
    path: str = ""

    def source_class(self, source: str) -> str | None:
        for name in _candidates(source):
            for cls, members in sorted(self.classes.items()):
                if name in members:
                    return cls
        return None

    def _matches(self, source: str, entries: tuple[str, ...]) -> bool:
        cls = self.source_class(source)
        return any(name in entries for name in _candidates(source)) or (cls is not None and cls in entries)

    def is_authority(self, source: str, stock_type: str) -> bool:
        return self._matches(source, self.authority.get(stock_type, ()))

    def rank(self, source: str) -> int:
        """0 is the highest priority; unknown sources rank last."""
        for i, entry in enumerate(self.priority):
            if self._matches(source, (entry,)):
                return i
        return len(self.priority)


def _candidates(source: str) -> list[str]:
    """``manual_franchise_12`` -> [manual_franchise_12, manual_franchise, manual]."""
    parts = source.split("_")
    return ["_".join(parts[:i]) for i in range(len(parts), 0, -1)]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    value: int | None  # settled value; for quarantine the proposed value; for no_change the current one
    chosen: Claim | None
    inputs: tuple[Claim, ...]  # every claim considered, in canonical order
    current_value: int | None
    rule_id: str
    rule_version: str
    stage: str  # the step that decided: single_claim, authority.<type>, freshness, priority, trust_vote, tolerance...
    reason: str
    dropped: tuple[Claim, ...] = field(default=())  # claims that lost, in canonical order
