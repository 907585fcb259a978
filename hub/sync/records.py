"""What every push leaves behind: its row in ``pushes`` (announced before the platform call, completed
after it), its lineage node, and the listing's ``expected`` figure — written for a shop's whole batch of
pushes in a few statements, whatever the number of listings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Connector
from hub import lineage
from hub.metrics import PUSH_LATENCY
from hub.storage.models import utcnow
from hub.storage.models_sync import ListingState, Push
from hub.storage.sql import core, dialect_of, insert_for, per_dialect
from hub.sync.publish import Target


@dataclass(slots=True)
class Plan:
    """One listing write to make: ``sent`` is the quantity (absolute, cas) or the delta."""

    name: str
    sku: str
    connector: Connector
    target: Target
    expected: int | None
    mode: str
    sent: int


@dataclass(slots=True)
class Outcome:
    """What the platform answered (``ok``, ``failed``: retry, ``dead``: permanent) and how it was written."""

    status: str
    started: datetime
    result: Any = None
    mode: str = ""
    sent: int = 0
    error: str = ""
    retry_after: float | None = None


@dataclass(slots=True)
class Written:
    """A write made, with what caused it and, once announced, its ``pushes`` row."""

    plan: Plan
    outcome: Outcome
    cause: str
    changed_at: str | None
    push_id: int | None = None


_P, _L = Push.__table__, ListingState.__table__
_ANNOUNCE = insert(_P).returning(_P.c.id, sort_by_parameter_order=True)
_COMPLETE = (update(_P).where(_P.c.id == bindparam("pid"))
             .values(mode=bindparam("mode"), sent=bindparam("sent"), platform_after=bindparam("after"),
                     status=bindparam("st"), response=bindparam("resp"), finished_at=bindparam("fin"),
                     latency_ms=bindparam("lat")))  # fmt: skip
_MOVED_BY = (update(_L).where(_L.c.source == bindparam("s"), _L.c.sku == bindparam("k"))
             .values(expected=_L.c.expected + bindparam("moved"), last_target=bindparam("t"),
                     last_push_id=bindparam("pid"), pushed_at=bindparam("fin")))  # fmt: skip


async def announce(session: AsyncSession, writes: Sequence[tuple[Plan, str, str | None]],
                   started: Sequence[datetime] | None = None) -> list[int]:  # fmt: skip
    """Rows in state ``sending`` for (plan, cause, changed_at) before the platform is called: their ids.
    ``started``: when each write began, for writes recorded after the call (embedded mode); default now."""
    if not writes:
        return []
    now = utcnow()
    began = list(started) if started is not None else [now] * len(writes)
    rows = [{"source": p.name, "sku": p.sku, "target": p.target.value, "mode": p.mode, "sent": p.sent,
             "expected_before": p.expected, "platform_after": None, "status": "sending", "response": "",
             "explanation": p.target.explain(), "caused_by": cause,
             "changed_at": datetime.fromisoformat(changed_at) if changed_at else at, "started_at": at,
             "finished_at": None, "latency_ms": None, "attempts": 1}
            for (p, cause, changed_at), at in zip(writes, began, strict=True)]  # fmt: skip
    conn = await core(session)
    return [int(r[0]) for r in (await conn.execute(_ANNOUNCE, rows)).all()]


async def record(session: AsyncSession, written: Sequence[Written]) -> list[Written]:
    """Complete each write's row (or add it, unannounced in embedded mode), its lineage, and the listing's
    expected figure; returns the writes the platform refused for good (dead letters)."""
    if not written:
        return []
    conn = await core(session)
    finished = utcnow()
    fresh = [w for w in written if w.push_id is None]
    if fresh:
        ids = await announce(session, [(w.plan, w.cause, w.changed_at) for w in fresh],
                             started=[w.outcome.started for w in fresh])
        for w, push_id in zip(fresh, ids, strict=True):
            w.push_id = push_id
    updates, moved, absolute, nodes, dead = [], [], [], [], []
    for w in written:
        plan, outcome = w.plan, w.outcome
        status = _status(w, fresh=w in fresh)
        since = datetime.fromisoformat(w.changed_at) if w.changed_at else outcome.started
        latency = (finished - since).total_seconds() * 1000
        error = f"unconfirmed, will be replayed with its key: {outcome.error}" if status == "sending" else outcome.error
        updates.append({"pid": w.push_id, "mode": outcome.mode, "sent": outcome.sent, "st": status,
                        "after": outcome.result.quantity if status == "ok" else None, "resp": error[:2000],
                        "fin": finished, "lat": latency})  # fmt: skip
        nodes.append((f"push:{w.push_id}", "push",
                      f"{status}: {plan.name} {plan.sku} → {plan.target.value} ({outcome.mode} {outcome.sent})",
                      (w.cause,) if w.cause else (), {"explanation": plan.target.explain()}))  # fmt: skip
        if status == "ok":
            PUSH_LATENCY.labels(source=plan.name).observe(latency / 1000)
            if plan.expected is not None and outcome.mode != "absolute":
                # A delta or compare-and-set moved the platform by (target - expected_before). Orders imported
                # meanwhile have already moved ``expected`` (note_channel_orders): add to it, never overwrite
                # it, or a sale imported during the push is deducted twice.
                moved.append({"s": plan.name, "k": plan.sku, "moved": plan.target.value - plan.expected,
                              "t": plan.target.value, "pid": w.push_id, "fin": finished})  # fmt: skip
            else:
                absolute.append({"source": plan.name, "sku": plan.sku, "expected": plan.target.value,
                                 "last_target": plan.target.value, "last_push_id": w.push_id, "pushed_at": finished})  # fmt: skip
        elif status == "dead":
            dead.append(w)
    await conn.execute(_COMPLETE, updates)
    if moved:
        await conn.execute(_MOVED_BY, moved)
    if absolute:
        await conn.execute(_set_expected(dialect_of(session)), absolute)
    await lineage.record_many(session, nodes)
    for w in dead:
        await _emit_failure(session, w)
    return dead


def _status(w: Written, *, fresh: bool) -> str:
    """A timeout or 5xx does not say the platform did not apply a delta or compare-and-set (a gateway may
    answer 503 after the shop committed). A new delta planned from the old ``expected`` would then count it
    twice: the row stays an unconfirmed write (``sending``), replayed with its key before anything else is
    sent to the shop. Only announced writes can be replayed."""
    o = w.outcome
    if o.status == "failed" and not fresh and o.mode != "absolute" and w.plan.expected is not None:
        return "sending"
    return o.status


@per_dialect
def _set_expected(dialect: str) -> Any:
    stmt = insert_for(dialect, _L)
    return stmt.on_conflict_do_update(
        index_elements=["source", "sku"],
        set_={c: stmt.excluded[c] for c in ("expected", "last_target", "last_push_id", "pushed_at")},
    )


async def _emit_failure(session: AsyncSession, w: Written) -> None:
    try:
        from hub.outbound import emit
    except ImportError:  # outbound webhooks not installed
        return
    plan = w.plan
    await emit(session, "sync.failed", {"source": plan.name, "sku": plan.sku, "target": plan.target.value,
                                        "error": w.outcome.error[:2000], "push_id": w.push_id},
               sku=plan.sku, shop=plan.name, parents=[f"push:{w.push_id}"])  # fmt: skip
