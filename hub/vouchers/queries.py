"""Read side and operator actions: list / show vouchers, retry failed postings, record unit costs."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.errors import Conflict, InvalidRequest, NotFound
from hub.jobs import outbox
from hub.storage.models import utcnow
from hub.storage.models_vouchers import (
    MovementFinanceInfo,
    VoucherCursor,
    VoucherLineRow,
    VoucherPosting,
    VoucherRow,
)
from hub.storage.sql import insert
from hub.vouchers.scan import CURSOR, POST_JOB, post_job_key

STATUSES = ("pending", "posted", "failed")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_period(period: str) -> str:
    if not PERIOD.match(period or ""):
        raise InvalidRequest(f"period must be YYYY-MM (got {period!r})", field="period")
    return period


def overall_status(postings: list[dict[str, Any]]) -> str:
    """failed if any ERP refused, pending while any waits, posted when all did; unrouted without ERP."""
    states = {p["status"] for p in postings}
    if not states:
        return "unrouted"
    for status in ("failed", "pending"):
        if status in states:
            return status
    return "posted"


def _posting_dict(p: VoucherPosting) -> dict[str, Any]:
    return {
        "id": p.id, "erp": p.erp, "status": p.status, "erp_id": p.erp_id, "erp_number": p.erp_number,
        "already_posted": p.already_posted, "error": p.error, "erp_code": p.erp_code, "attempts": p.attempts,
        "posted_at": p.posted_at.isoformat() if p.posted_at else None, "updated_at": p.updated_at.isoformat(),
    }  # fmt: skip


def _voucher_dict(v: VoucherRow, postings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": v.id, "key": v.key, "book": v.book, "date": v.date, "period": v.period, "template": v.template,
        "mode": v.mode, "total": v.total, "status": overall_status(postings), "postings": postings,
        "movement_ids": (v.data or {}).get("source_movement_ids", []), "lineage_id": f"voucher:{v.id}",
        "created_at": v.created_at.isoformat(),
    }  # fmt: skip


async def _postings(session: AsyncSession, voucher_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if voucher_ids:
        stmt = select(VoucherPosting).where(VoucherPosting.voucher_id.in_(voucher_ids)).order_by(VoucherPosting.erp)
        for p in (await session.execute(stmt)).scalars().all():
            out[p.voucher_id].append(_posting_dict(p))
    return out


async def scan_state(session: AsyncSession) -> dict[str, Any]:
    cursor = await session.get(VoucherCursor, CURSOR)
    if cursor is None:
        return {"cursor": 0, "blocked_movement_id": None, "error": None}
    return {"cursor": cursor.last_id, "blocked_movement_id": cursor.blocked_movement_id, "error": cursor.error,
            "updated_at": cursor.updated_at.isoformat()}  # fmt: skip


async def list_vouchers(
    session: AsyncSession,
    *,
    status: str | None = None,
    period: str | None = None,
    erp: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Newest first; ``status`` matches any posting in that status (``failed`` = the dead letters)."""
    stmt = select(VoucherRow)
    if status is not None:
        if status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)} (got {status!r})", field="status")
        cond = (VoucherPosting.voucher_id == VoucherRow.id) & (VoucherPosting.status == status)
        if erp:
            cond = cond & (VoucherPosting.erp == erp)
        stmt = stmt.where(exists().where(cond))
    elif erp:
        stmt = stmt.where(exists().where((VoucherPosting.voucher_id == VoucherRow.id) & (VoucherPosting.erp == erp)))
    if period is not None:
        stmt = stmt.where(VoucherRow.period == check_period(period))
    if before_id is not None:
        stmt = stmt.where(VoucherRow.id < before_id)
    rows = (await session.execute(stmt.order_by(VoucherRow.id.desc()).limit(limit))).scalars().all()
    postings = await _postings(session, [r.id for r in rows])
    return {
        "vouchers": [_voucher_dict(r, postings.get(r.id, [])) for r in rows],
        "next_before_id": rows[-1].id if len(rows) == limit else None,
        "scan": await scan_state(session),
    }


async def get_voucher(session: AsyncSession, voucher_id: int) -> dict[str, Any]:
    row = await session.get(VoucherRow, voucher_id)
    if row is None:
        raise NotFound(f"no voucher {voucher_id}", voucher_id=voucher_id)
    lines = (
        (
            await session.execute(
                select(VoucherLineRow).where(VoucherLineRow.voucher_id == voucher_id).order_by(VoucherLineRow.seq)
            )
        )
        .scalars()
        .all()
    )
    out = _voucher_dict(row, (await _postings(session, [voucher_id])).get(voucher_id, []))
    out["lines"] = [
        {"seq": ln.seq, "account": ln.account, "debit": ln.debit, "credit": ln.credit, "summary": ln.summary,
         "dims": ln.dims or {}, "movement_ids": ln.movement_ids or []}
        for ln in lines
    ]  # fmt: skip
    out["total_debit"] = str(sum((Decimal(ln.debit) for ln in lines), Decimal("0.00")))
    out["total_credit"] = str(sum((Decimal(ln.credit) for ln in lines), Decimal("0.00")))
    return out


async def retry_voucher(
    session: AsyncSession, voucher_id: int, *, erp: str | None = None
) -> tuple[dict[str, Any], list[int]]:
    """Re-arm the failed postings of a voucher (after the mapping or the ERP was fixed); returns job ids."""
    row = await session.get(VoucherRow, voucher_id)
    if row is None:
        raise NotFound(f"no voucher {voucher_id}", voucher_id=voucher_id)
    stmt = select(VoucherPosting).where(VoucherPosting.voucher_id == voucher_id, VoucherPosting.status == "failed")
    if erp:
        stmt = stmt.where(VoucherPosting.erp == erp)
    failed = (await session.execute(stmt.with_for_update())).scalars().all()
    if not failed:
        raise Conflict(f"voucher {row.key} has no failed posting{f' to {erp}' if erp else ''} to retry",
                       voucher_id=voucher_id)  # fmt: skip
    job_ids = []
    for p in failed:
        await session.execute(
            update(VoucherPosting).where(VoucherPosting.id == p.id, VoucherPosting.status == "failed")
            .values(status="pending", attempts=0, lease_until=None, updated_at=utcnow())
        )  # fmt: skip
        job_ids.append(await outbox.enqueue(session, POST_JOB, post_job_key(row.key, p.erp), {"posting_id": p.id}))
    return {"voucher_id": voucher_id, "key": row.key, "retried": sorted(p.erp for p in failed)}, job_ids


def parse_unit_cost(unit_cost: str | Decimal | None, field: str = "unit_cost") -> str | None:
    """A unit cost as the decimal text vouchers store (None when not given); InvalidRequest naming ``field``."""
    if unit_cost in (None, ""):
        return None
    try:
        value = Decimal(str(unit_cost))
    except InvalidOperation:
        raise InvalidRequest(f"{field} {unit_cost!r} is not a number", field=field) from None
    if not value.is_finite() or value < 0:
        raise InvalidRequest(f"{field} must be a non-negative number (got {unit_cost!r})", field=field)
    return str(value)


async def record_unit_cost(
    session: AsyncSession,
    movement_key: str,
    *,
    unit_cost: str | Decimal | None = None,
    entity: str | None = None,
    counterparty_entity: str | None = None,
    shop: str | None = None,
    refs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What finance knows about a movement (entry-order cost, shop, references); upsert by movement key."""
    if not movement_key or len(movement_key) > 200:
        raise InvalidRequest("movement_key must be 1-200 characters", field="movement_key")
    cost = parse_unit_cost(unit_cost)
    values = {"movement_key": movement_key, "unit_cost": cost, "entity": entity, "counterparty_entity": counterparty_entity,
              "shop": shop, "refs": {str(k): str(v) for k, v in (refs or {}).items()}, "created_at": utcnow()}  # fmt: skip
    stmt = insert(session, MovementFinanceInfo).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["movement_key"],
        set_={c: stmt.excluded[c] for c in ("unit_cost", "entity", "counterparty_entity", "shop", "refs")},
    )
    await session.execute(stmt)
    return {k: v for k, v in values.items() if k != "created_at"}
