"""arbitrate(): one settled value (or quarantine) from several sources' claims about one cell.

Steps, each applied only when it still has a choice to make:
  1. each source's latest claim supersedes its older ones;
  2. authority: if the stock type has an authority (WMS for on_hand) and it made a claim, only it counts;
  3. freshness: claims older than the newest by more than the clock-skew window lose;
  4. priority: the best-ranked source class wins (e-commerce outranks store POS);
  5. trust vote: among the rest, the value with the most summed trust wins;
then tolerance: a winner below the trust threshold that moves the current figure by more than its
tolerance goes to quarantine. Every step works on a canonically ordered set, so the same claims in
any order give the same decision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from conflict_rules.model import Claim, Decision, RuleSet


def _latest_per_source(claims: Iterable[Claim]) -> list[Claim]:
    best: dict[str, Claim] = {}
    for c in claims:
        key = c.sort_key()[1:]
        if c.source not in best or key > best[c.source].sort_key()[1:]:
            best[c.source] = c
    return sorted(best.values(), key=Claim.sort_key)


def _trust_vote(claims: list[Claim]) -> tuple[int, Claim]:
    by_value: dict[int, list[Claim]] = defaultdict(list)
    for c in claims:
        by_value[c.value].append(c)

    def score(value: int) -> tuple[int, int, object, int]:
        group = by_value[value]
        return (sum(c.trust for c in group), max(c.trust for c in group), max(c.observed_at for c in group), -value)

    value = max(by_value, key=score)  # ties: most trusted, then freshest, then the smaller (safer) figure
    chosen = max(by_value[value], key=lambda c: (c.trust, c.observed_at, [-ord(ch) for ch in c.source]))
    return value, chosen


def arbitrate(claims: list[Claim], current_value: int | None, rules: RuleSet) -> Decision:
    """Settle one cell. ``current_value`` is the ledger's figure (None if the cell has none yet)."""
    inputs = tuple(sorted(claims, key=Claim.sort_key))

    def decide(outcome, value, chosen, stage, reason, pool=()):  # type: ignore[no-untyped-def]
        dropped = tuple(c for c in inputs if c not in pool) if chosen is not None else ()
        return Decision(
            outcome, value, chosen, inputs, current_value, rules.id, rules.version, stage, reason, dropped
        )

    if not inputs:
        return decide("no_change", current_value, None, "no_claims", "no claims to arbitrate")
    types = {c.stock_type for c in inputs}
    if len(types) > 1:
        raise ValueError(f"claims are about different stock types ({', '.join(sorted(types))}); arbitrate one cell at a time")
    stock_type = types.pop()

    pool = _latest_per_source(inputs)
    stage, reason = "single_claim", f"only {pool[0].source} claims {stock_type}" if len(pool) == 1 else ""
    if len(pool) > 1:
        authority = [c for c in pool if rules.is_authority(c.source, stock_type)]
        if authority and len(authority) < len(pool):
            pool = authority
            stage, reason = f"authority.{stock_type}", f"{', '.join(c.source for c in pool)} is the authority for {stock_type}"
    if len(pool) > 1:
        newest = max(c.observed_at for c in pool)
        fresh = [c for c in pool if c.observed_at >= newest - rules.clock_skew]
        if len(fresh) < len(pool):
            stale = [c.source for c in pool if c not in fresh]
            pool = fresh
            stage = "freshness"
            reason = f"{', '.join(stale)} older than the newest claim by more than {int(rules.clock_skew.total_seconds())}s"
    if len(pool) > 1:
        best = min(rules.rank(c.source) for c in pool)
        top = [c for c in pool if rules.rank(c.source) == best]
        if len(top) < len(pool):
            pool = top
            stage = "priority"
            reason = f"{', '.join(c.source for c in pool)} outrank{'s' if len(pool) == 1 else ''} the others"
    value, chosen = _trust_vote(pool)
    if len({c.value for c in pool}) > 1:
        stage = "trust_vote"
        reason = f"{value} has the most trust among {', '.join(f'{c.source}={c.value}' for c in pool)}"
    reason = reason or f"{', '.join(c.source for c in pool)} agree on {value}"

    if current_value is not None and value == current_value:
        return decide("no_change", value, chosen, stage, f"{reason}; equals the current figure", pool)
    tolerance = chosen.tolerance or rules.default_tolerance
    if current_value is not None and chosen.trust < rules.trust_threshold and not tolerance.allows(current_value, value):
        return decide(
            "quarantine",
            value,
            chosen,
            "tolerance",
            f"{chosen.source} (trust {chosen.trust} < {rules.trust_threshold}) moves {stock_type} from {current_value} "
            f"to {value}, more than its tolerance of {tolerance.allowed(current_value)}",
            pool,
        )
    return decide("settled", value, chosen, stage, reason, pool)
