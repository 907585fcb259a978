"""The voucher scan: new ledger movements → valued, balanced vouchers, each exactly once.

One transaction per batch: lock the cursor row, read the movements after it in id order, value them
with the persisted costing state, insert vouchers (deterministic keys: a re-scan inserts nothing),
their lines, one posting per ERP that keeps the entity's books, lineage ``voucher:{id}`` →
``movement:{id}``, and a durable ``vouchers.post`` job per posting; then advance the cursor and save
the costing state. Costing therefore moves exactly once per movement, in ledger order, and survives
restarts with the cursor.

Movement ids are assigned before commit, so id 11 may be visible while id 10 is still committing.
The scan reads contiguous ids only; a gap is treated as permanent (a rolled-back or duplicate insert
consumed the id) once the row after it is older than ``gap_grace_seconds``.

A movement that cannot be valued (a receipt with no known cost, a kind with no template) stops the
scan there, with the reason on the cursor (``GET /api/v1/vouchers`` shows it): skipping it would
value every later issue of that sku at the wrong average.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.vouchers import (
    CostingError,
    MovingAverageCost,
    Position,
    StandardCost,
    TemplateError,
    TemplateSet,
    Voucher,
    VoucherError,
    build_voucher,
    summarise,
)
from hub import lineage
from hub.jobs import outbox
from hub.storage.models import MovementRow, Reservation, utcnow
from hub.storage.models_vouchers import (
    CostingPositionRow,
    MovementFinanceInfo,
    VoucherCursor,
    VoucherLineRow,
    VoucherPart,
    VoucherPosting,
    VoucherRow,
)
from hub.storage.sql import insert
from hub.vouchers.config import VoucherConfig
from hub.vouchers.erps import ErpTarget, erp_targets
from hub.vouchers.facts import MovementInput, facts_for, movement_label

log = logging.getLogger("zhongshu.vouchers")
CURSOR = "main"
POST_JOB = "vouchers.post"


@dataclass
class ScanResult:
    cursor: int = 0
    processed: int = 0
    voucher_ids: list[int] = field(default_factory=list)
    job_ids: list[int] = field(default_factory=list)
    blocked: str | None = None
    waiting_for_gap: bool = False
    more: bool = False


class _StandardByKey(StandardCost):
    """Standard cost looked up by sku while the engine keys positions ``entity|sku``."""

    def _std(self, sku: str) -> Decimal:
        return super()._std(sku.split("|", 1)[-1])


def post_job_key(voucher_key: str, erp: str) -> str:
    return f"voucher:{voucher_key}@{erp}"


async def scan(session: AsyncSession, config: VoucherConfig, *, now: datetime | None = None) -> ScanResult:
    """One batch (``config.batch_size`` movements). The caller commits, then kicks ``result.job_ids``."""
    now = now or utcnow()
    targets = await erp_targets(session)
    last_id = await _lock_cursor(session, now)
    result = ScanResult(cursor=last_id)
    if not targets:
        return result  # no ERP configured: nothing to post to, leave the movements for when one is
    rows = (
        (
            await session.execute(
                select(MovementRow).where(MovementRow.id > last_id).order_by(MovementRow.id).limit(config.batch_size)
            )
        )
        .scalars()
        .all()
    )
    take = _contiguous(rows, last_id, now, config.gap_grace_seconds)
    result.waiting_for_gap = len(take) < len(rows)
    result.more = len(rows) == config.batch_size and not result.waiting_for_gap
    inputs = await movement_inputs(session, take)
    templates = config.templates()
    positions = await _load_positions(
        session, {_cost_key(f.entity, f.sku) for m in inputs for f in facts_for(m, config)}
    )
    engine: Any = (
        _StandardByKey(config.standard_costs) if config.costing == "standard" else MovingAverageCost(positions)
    )
    built: list[Voucher] = []
    done = last_id
    for m in inputs:
        saved = copy.deepcopy(engine.positions) if isinstance(engine, MovingAverageCost) else None
        try:
            built.extend(_vouchers_for(m, config, templates, engine))
        except (VoucherError, CostingError) as exc:
            if saved is not None:
                engine.positions = saved
            result.blocked = f"{movement_label(m)} cannot be valued: {exc}"
            await _block(session, m.id, result.blocked)
            break
        done = m.id
    if config.mode == "summary":
        await _store_parts(session, built)
        await _summarise_closed(session, config, targets, now, result)
    else:
        await _store_vouchers(session, built, targets, "movement", result)
    if isinstance(engine, MovingAverageCost):
        await _save_positions(session, engine.positions, done, now)
    values: dict[str, Any] = {"last_id": done, "updated_at": now}
    if result.blocked is None:
        values.update(error=None, blocked_movement_id=None)
    await session.execute(update(VoucherCursor).where(VoucherCursor.name == CURSOR).values(**values))
    result.cursor, result.processed = done, sum(1 for m in inputs if m.id <= done)
    return result


def _contiguous(rows: Sequence[MovementRow], last_id: int, now: datetime, grace: float) -> list[MovementRow]:
    out: list[MovementRow] = []
    expected = last_id + 1
    for row in rows:
        if row.id != expected and (now - row.created_at).total_seconds() < grace:
            break  # an earlier id may still be committing: wait for it
        out.append(row)
        expected = row.id + 1
    return out


async def _lock_cursor(session: AsyncSession, now: datetime) -> int:
    await session.execute(
        insert(session, VoucherCursor).values(name=CURSOR, last_id=0, updated_at=now).on_conflict_do_nothing()
    )
    stmt = update(VoucherCursor).where(VoucherCursor.name == CURSOR).values(updated_at=now)
    return int((await session.execute(stmt.returning(VoucherCursor.last_id))).scalar_one())


async def _block(session: AsyncSession, movement_id: int, reason: str) -> None:
    current = await session.get(VoucherCursor, CURSOR)
    if current is not None and current.error != reason:
        log.warning("voucher scan blocked: %s", reason)
    await session.execute(
        update(VoucherCursor).where(VoucherCursor.name == CURSOR).values(blocked_movement_id=movement_id, error=reason)
    )


async def movement_inputs(session: AsyncSession, rows: Sequence[MovementRow]) -> list[MovementInput]:
    """Movement rows joined with their finance info and the order of their reservation."""
    if not rows:
        return []
    keys = [r.key for r in rows]
    infos = {
        i.movement_key: i
        for i in (await session.execute(select(MovementFinanceInfo).where(MovementFinanceInfo.movement_key.in_(keys))))
        .scalars()
        .all()
    }
    holds = {k.rsplit("#", 1)[0] for k in keys if "#" in k}
    orders = (
        dict(
            (
                await session.execute(select(Reservation.key, Reservation.order_ref).where(Reservation.key.in_(holds)))
            ).all()
        )
        if holds
        else {}
    )
    out = []
    for r in rows:
        info = infos.get(r.key)
        refs = dict(info.refs or {}) if info else {}
        order = orders.get(r.key.rsplit("#", 1)[0]) if "#" in r.key else None
        if order:
            refs.setdefault("order_id", order)
        out.append(
            MovementInput(
                id=r.id, key=r.key, kind=r.kind, sku=r.sku, qty=r.qty, from_account=r.from_account,
                to_account=r.to_account, created_at=r.created_at,
                unit_cost=Decimal(info.unit_cost) if info and info.unit_cost not in (None, "") else None,
                entity=info.entity if info else None, counterparty_entity=info.counterparty_entity if info else None,
                shop=info.shop if info else None, refs=refs,
            )
        )  # fmt: skip
    return out


async def dry_run(session: AsyncSession, config: VoucherConfig, m: MovementInput) -> list[Voucher]:
    """The vouchers ``m`` would make now, valued against a copy of the costing state (nothing stored)."""
    keys = {_cost_key(f.entity, f.sku) for f in facts_for(m, config)}
    engine: Any = (_StandardByKey(config.standard_costs) if config.costing == "standard"
                   else MovingAverageCost(await _load_positions(session, keys)))  # fmt: skip
    return _vouchers_for(m, config, config.templates(), engine)


def _cost_key(entity: str, sku: str) -> str:
    return f"{entity}|{sku}"


def _vouchers_for(m: MovementInput, config: VoucherConfig, templates: TemplateSet, engine: Any) -> list[Voucher]:
    """Value one movement (mutates ``engine``); a direct inter-entity move carries its issue value across."""
    out: list[Voucher] = []
    carried: Decimal | None = None
    for fact in facts_for(m, config):
        template = templates.find(fact)
        if template.valuation == "receive" and fact.unit_cost is None:
            cost = _fallback_cost(fact.entity, fact.sku, fact.quantity, config, engine, carried)
            if cost is None:
                raise TemplateError(
                    f"receipt without a unit cost and no average for {fact.sku} at {fact.entity} yet: record it with "
                    f"POST /api/v1/vouchers/unit-costs {{movement_key: {m.key!r}, unit_cost: ...}}"
                )
            fact = replace(fact, unit_cost=cost)
        voucher = build_voucher(fact, templates, engine)
        if voucher is not None:
            out.append(voucher)
            if fact.kind == "transfer_out":
                carried = voucher.total_debit
    return out


def _fallback_cost(
    entity: str, sku: str, qty: Decimal, config: VoucherConfig, engine: Any, carried: Decimal | None
) -> Decimal | None:
    if carried is not None:
        return carried / qty
    if sku in config.standard_costs:
        return config.standard_costs[sku]
    if isinstance(engine, MovingAverageCost):
        pos = engine.positions.get(_cost_key(entity, sku))
        return pos.unit_cost if pos is not None else None
    return None


async def _load_positions(session: AsyncSession, keys: set[str]) -> dict[str, Position]:
    if not keys:
        return {}
    rows = (await session.execute(select(CostingPositionRow).where(CostingPositionRow.key.in_(keys)))).scalars().all()
    return {
        r.key: Position(Decimal(r.quantity), Decimal(r.value), Decimal(r.last_unit_cost) if r.last_unit_cost else None)
        for r in rows
    }


async def _save_positions(
    session: AsyncSession, positions: dict[str, Position], movement_id: int, now: datetime
) -> None:
    rows = [
        {"key": k, "entity": k.split("|", 1)[0], "sku": k.split("|", 1)[1], "quantity": str(p.quantity),
         "value": str(p.value), "last_unit_cost": None if p.last_unit_cost is None else str(p.last_unit_cost),
         "last_movement_id": movement_id, "updated_at": now}
        for k, p in sorted(positions.items())
    ]  # fmt: skip
    if not rows:
        return
    stmt = insert(session, CostingPositionRow).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={c: stmt.excluded[c] for c in ("quantity", "value", "last_unit_cost", "last_movement_id", "updated_at")},
    )
    await session.execute(stmt)


async def _store_vouchers(
    session: AsyncSession, vouchers: Iterable[Voucher], targets: Sequence[ErpTarget], mode: str, result: ScanResult
) -> dict[str, int]:
    """Insert vouchers (skipping keys already stored), lines, postings, lineage, post jobs; key → id."""
    ids: dict[str, int] = {}
    for v in vouchers:
        meta = dict(v.meta)
        stmt = insert(session, VoucherRow).values(
            key=v.key, book=v.book, date=v.date.isoformat(), period=v.date.isoformat()[:7],
            template=meta.get("template", ""), mode=mode, total=str(v.total_debit),
            data={**v.to_dict(), "meta": meta}, created_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=["key"])  # fmt: skip
        vid = (await session.execute(stmt.returning(VoucherRow.id))).scalar()
        if vid is None:
            ids[v.key] = int((await session.execute(select(VoucherRow.id).where(VoucherRow.key == v.key))).scalar_one())
            continue
        ids[v.key] = vid
        result.voucher_ids.append(vid)
        await session.execute(
            insert(session, VoucherLineRow).values([
                {"voucher_id": vid, "seq": i, "account": ln.account, "debit": str(ln.debit), "credit": str(ln.credit),
                 "summary": ln.summary, "dims": dict(ln.dims), "movement_ids": list(ln.movement_ids)}
                for i, ln in enumerate(v.lines, start=1)
            ])
        )  # fmt: skip
        for target in targets:
            if not target.keeps(v.book):
                continue
            pid = (
                await session.execute(
                    insert(session, VoucherPosting)
                    .values(voucher_id=vid, erp=target.name, status="pending", created_at=utcnow(), updated_at=utcnow())
                    .returning(VoucherPosting.id)
                )
            ).scalar_one()
            result.job_ids.append(await outbox.enqueue(session, POST_JOB, post_job_key(v.key, target.name),
                                                       {"posting_id": pid}))  # fmt: skip
        label = f"voucher {v.key} {v.book} {v.date.isoformat()} {meta.get('template', '')} {v.total_debit}"
        await lineage.record(
            session, f"voucher:{vid}", kind="voucher", label=label,
            parents=[f"movement:{mid}" for mid in v.source_movement_ids],
            data={"key": v.key, "book": v.book, "date": v.date.isoformat(), "total": str(v.total_debit), "mode": mode},
        )  # fmt: skip
    return ids


async def _store_parts(session: AsyncSession, vouchers: Iterable[Voucher]) -> None:
    rows = [
        {"key": v.key, "movement_id": int(v.source_movement_ids[0]), "book": v.book, "day": v.date.isoformat(),
         "data": {**v.to_dict(), "meta": dict(v.meta)}, "created_at": utcnow()}
        for v in vouchers
    ]  # fmt: skip
    if rows:
        await session.execute(insert(session, VoucherPart).values(rows).on_conflict_do_nothing(index_elements=["key"]))


async def _summarise_closed(
    session: AsyncSession, config: VoucherConfig, targets: Sequence[ErpTarget], now: datetime, result: ScanResult
) -> None:
    """Merge the parts of every day that has ended (in ``config.timezone``) into 汇总凭证."""
    today = now.astimezone(config.zone).date().isoformat()
    parts = (
        await session.execute(
            select(VoucherPart).where(VoucherPart.summary_voucher_id.is_(None), VoucherPart.day < today)
            .order_by(VoucherPart.id)
        )
    ).scalars().all()  # fmt: skip
    if not parts:
        return
    members = [_part_voucher(p) for p in parts]
    summaries = summarise(members, grain=config.summary_grain)
    ids = await _store_vouchers(session, summaries, targets, "summary", result)
    for s in summaries:
        covered = set(s.source_movement_ids)
        part_ids = [p.id for p, v in zip(parts, members, strict=True) if v.book == s.book and set(v.source_movement_ids) <= covered
                    and dict(v.meta).get("template") == dict(s.meta).get("template")]  # fmt: skip
        await session.execute(
            update(VoucherPart).where(VoucherPart.id.in_(part_ids), VoucherPart.summary_voucher_id.is_(None))
            .values(summary_voucher_id=ids[s.key])
        )  # fmt: skip


def _part_voucher(p: VoucherPart) -> Voucher:
    data = dict(p.data)
    meta = tuple((str(k), str(v)) for k, v in (data.get("meta") or {}).items())
    return replace(Voucher.from_dict(data), meta=meta, date=date.fromisoformat(p.day))
