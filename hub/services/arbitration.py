"""Arbitration at the edge of the ledger: claims about a physical cell → one decision → an adjust movement.

Only stock types with a declared authority (on_hand, damaged, quality_hold, in_transit) are settled into
the ledger; channel figures (sellable, reserved…) stay in the cube for views and reconciliation. A claim
that loses to the authority but comes from a low-trust source and contradicts the settled figure by more
than its tolerance is quarantined for a person, never applied blindly and never silently dropped.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conflict_rules.model import Claim, Decision
from conflict_rules.engine import arbitrate
from hub import lineage
from hub.domain.errors import InvalidTransition, NotFound, WouldOverdraw
from hub.domain.ledger import ON_HAND_BUCKETS, make_movement
from hub.semantics import Semantics
from hub.services import observations as obs_store
from hub.services.ledger import apply_movements
from hub.storage.models import Balance, DecisionRow, ObservationRow, Source, utcnow
from hub.storage.sql import insert


def arbitrated_types(sem: Semantics) -> set[str]:
    return set(sem.rules.authority)


async def ledger_value(session: AsyncSession, sku: str, location: str, stock_type: str) -> int | None:
    """What the ledger says for a cell (on_hand is the sum of its parts); None if it never held any."""
    accounts = [f"{location}/{b}" for b in (ON_HAND_BUCKETS if stock_type == "on_hand" else (stock_type,))]
    rows = (await session.execute(select(Balance.qty).where(Balance.sku == sku, Balance.account.in_(accounts)))).all()
    return sum(r[0] for r in rows) if rows else None


async def _claims(session: AsyncSession, sem: Semantics, sku: str, location: str, stock_type: str) -> list[Claim]:
    cells = await obs_store.latest_cells(session, sku, location=location, stock_type=stock_type)
    overrides = {s.name: s for s in (await session.execute(select(Source).where(
        Source.name.in_([r.source for r in cells])))).scalars()}  # fmt: skip
    claims = []
    for src in overrides.values():
        sem.know_instance(src.name, src.platform)
    for row in cells:
        src = overrides.get(row.source)
        trust = src.trust if src is not None and src.trust is not None else None
        claims.append(Claim.from_observation(obs_store.to_observation(row), sem.dictionary,
                                             observation_id=row.id, trust=trust))  # fmt: skip
    return claims


async def settle_cell(
    session: AsyncSession, sem: Semantics, trigger: ObservationRow, *, guarded_buckets: list[str]
) -> DecisionRow | None:
    """Arbitrate the cell ``trigger`` speaks about; record the decision and apply it (or quarantine it)."""
    sku, location, stock_type = trigger.sku, trigger.location, trigger.stock_type
    claims = await _claims(session, sem, sku, location, stock_type)
    current = await ledger_value(session, sku, location, stock_type)
    decision = arbitrate(claims, current if current is not None else 0, sem.rules)
    key = f"{sku}|{location}|{stock_type}|obs:{trigger.id}"
    if decision.outcome == "no_change":
        contradiction = _contradiction(sem, decision, claims, trigger)
        if contradiction is None:
            return None
        return await _record(session, key, trigger, decision, outcome="quarantine", status="pending",
                             value=trigger.quantity, chosen=trigger.source, reason=contradiction)  # fmt: skip
    if decision.outcome == "quarantine":
        return await _record(session, key, trigger, decision, outcome="quarantine", status="pending")
    row = await _record(session, key, trigger, decision, outcome="settled", status="done")
    if row is None:
        return None
    try:
        async with session.begin_nested():
            row.movement_id = await _adjust(session, row, decision.value or 0, guarded_buckets=guarded_buckets)
    except WouldOverdraw as exc:
        row.outcome, row.status = "quarantine", "pending"
        row.reason = f"{row.reason}; applying it would {exc.detail}"
    return row


def _contradiction(sem: Semantics, decision: Decision, claims: list[Claim], trigger: ObservationRow) -> str | None:
    mine = next((c for c in claims if c.observation_id == trigger.id), None)
    if mine is None or decision.chosen is None or decision.chosen.source == mine.source:
        return None
    tolerance = mine.tolerance or sem.rules.default_tolerance
    settled = decision.value or 0
    if mine.trust >= sem.rules.trust_threshold or tolerance.allows(settled, mine.value):
        return None
    return (f"{mine.source} (trust {mine.trust} < {sem.rules.trust_threshold}) says {mine.value}, "
            f"{decision.chosen.source} says {settled}: more than its tolerance of {tolerance.allowed(settled)} apart; "
            f"{decision.reason}")  # fmt: skip


def _claim_dict(c: Claim) -> dict[str, Any]:
    return {"source": c.source, "value": c.value, "observed_at": c.observed_at.isoformat(), "trust": c.trust,
            "observation_id": c.observation_id, "raw_event_id": c.raw_event_id}  # fmt: skip


async def _record(
    session: AsyncSession, key: str, trigger: ObservationRow, decision: Decision, *, outcome: str, status: str,
    value: int | None = None, chosen: str | None = None, reason: str | None = None,
) -> DecisionRow | None:  # fmt: skip
    values = {
        "key": key, "sku": trigger.sku, "location": trigger.location, "stock_type": trigger.stock_type,
        "outcome": outcome, "value": decision.value if value is None else value, "current_value": decision.current_value,
        "chosen_source": chosen or (decision.chosen.source if decision.chosen else ""), "rule_id": decision.rule_id,
        "rule_version": decision.rule_version, "stage": decision.stage, "reason": reason or decision.reason,
        "inputs": [_claim_dict(c) for c in decision.inputs], "status": status, "created_at": utcnow(),
    }  # fmt: skip
    stmt = insert(session, DecisionRow).values(values).on_conflict_do_nothing(index_elements=["key"])
    row = (await session.execute(stmt.returning(DecisionRow.id))).first()
    if row is None:
        return None  # decided before (a replay): nothing new
    decision_row = await session.get(DecisionRow, int(row[0]))
    assert decision_row is not None
    rule_node = f"rule:arbitration:{decision.rule_id}@{decision.rule_version}"
    await lineage.record(session, rule_node, kind="arbitration_rule", label=f"{decision.rule_id} {decision.rule_version}")
    parents = [f"observation:{c.observation_id}" for c in decision.inputs if c.observation_id] + [rule_node]
    await lineage.record(session, f"decision:{decision_row.id}", kind="decision", parents=parents,
                         label=f"{outcome}: {trigger.stock_type} of {trigger.sku}@{trigger.location} = {values['value']}",
                         data={"reason": values["reason"], "stage": decision.stage})  # fmt: skip
    return decision_row


async def _adjust(session: AsyncSession, row: DecisionRow, target: int, *, guarded_buckets: list[str],
                  key_prefix: str = "adjust") -> int | None:  # fmt: skip
    current = await ledger_value(session, row.sku, row.location, row.stock_type) or 0
    diff = target - current
    if diff == 0:
        return None
    bucket = f"{row.location}/{'free' if row.stock_type == 'on_hand' else row.stock_type}"
    source, dest = ("adjustment", bucket) if diff > 0 else (bucket, "adjustment")
    movement = make_movement(key=f"{key_prefix}:{row.key}", sku=row.sku, qty=abs(diff), source=source, target=dest,
                             kind="adjust", parents=(f"decision:{row.id}",))  # fmt: skip
    [result] = await apply_movements(session, [movement], guarded_buckets=guarded_buckets)
    return result.id


async def resolve(
    session: AsyncSession, decision_id: int, *, approve: bool, by: str, reason: str, guarded_buckets: list[str]
) -> DecisionRow:
    """A person approves (applies the proposed figure as an adjust movement) or rejects (records why)."""
    row = await session.get(DecisionRow, decision_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no decision {decision_id}")
    if row.status != "pending":
        raise InvalidTransition(f"decision {decision_id} is {row.status}, not pending in quarantine")
    if approve:
        row.movement_id = await _adjust(session, row, row.value or 0, guarded_buckets=guarded_buckets,
                                        key_prefix="approved")  # fmt: skip
    await session.execute(update(DecisionRow).where(DecisionRow.id == decision_id).values(
        status="approved" if approve else "rejected", resolved_by=by, resolution=reason, resolved_at=utcnow(),
        movement_id=row.movement_id))  # fmt: skip
    await lineage.record(session, f"resolution:{decision_id}", kind="resolution", parents=(f"decision:{decision_id}",),
                         label=f"{'approved' if approve else 'rejected'} by {by}: {reason}"[:300])  # fmt: skip
    await session.refresh(row)
    return row
