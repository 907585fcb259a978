"""Reconciliation (对账) for one period and one ERP: ledger stock value vs vouchers vs ERP read-back.

Three figures per legal entity, all as the change of the inventory account over the period:

* ledger — every valued movement of the period (per-movement vouchers, or the parts of 汇总凭证);
* posted — the vouchers the hub recorded as posted to this ERP;
* erp — what ``list_posted`` reads back from the ERP on the mapped inventory account.

Every difference is listed with its cause, voucher by voucher ("voucher ZS… posted as 记-202611-0002
is missing in the ERP"), plus the ledger-side causes (scan blocked, movements not yet valued, days
not yet summarised, costing state not matching the valued movements).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.vouchers.erp import PostedVoucher
from hub.domain.errors import InvalidRequest, NotFound
from hub.storage.models import MovementRow, Source
from hub.storage.models_vouchers import (
    CostingPositionRow,
    VoucherCursor,
    VoucherLineRow,
    VoucherPart,
    VoucherPosting,
    VoucherRow,
)
from hub.vouchers.config import VoucherConfig
from hub.vouchers.erps import ERP_PLATFORMS, account_map, connector_for, target_of
from hub.vouchers.queries import check_period
from hub.vouchers.scan import CURSOR

ZERO = Decimal("0.00")
INVENTORY = "inventory"


def period_bounds(period: str) -> tuple[date, date]:
    year, month = map(int, check_period(period).split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _inv(lines: list[dict[str, Any]], account: str = INVENTORY) -> Decimal:
    return sum(
        (Decimal(str(ln["debit"])) - Decimal(str(ln["credit"])) for ln in lines if ln["account"] == account), ZERO
    )


async def reconcile(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Any, config: VoucherConfig, period: str, erp: str
) -> dict[str, Any]:
    start, end = period_bounds(period)
    async with sessionmaker() as session:
        source = await session.get(Source, erp)
        if source is None:
            raise NotFound(f"no ERP source {erp!r}", erp=erp)
        if source.platform not in ERP_PLATFORMS:
            raise InvalidRequest(f"source {erp!r} is a {source.platform} source, not an ERP ({', '.join(ERP_PLATFORMS)})",
                                 field="erp")  # fmt: skip
        hub_side = await _hub_side(session, period, end, check_costing=config.costing == "moving_average")
    target = target_of(source)
    amap = account_map(config.templates(), source)
    inv_code = amap.get(INVENTORY, INVENTORY)
    entities = sorted({e for e in hub_side["entities"] if target.keeps(e)} | set(target.entities or ()))
    differences: list[dict[str, Any]] = list(hub_side["ledger_differences"])
    read_back: dict[str, PostedVoucher] = {}
    unkeyed: list[PostedVoucher] = []
    async with connector_for(settings, source) as connector:
        for entity in entities:
            for p in await connector.list_posted(entity, start, end):  # type: ignore[attr-defined]
                if p.key:
                    read_back[p.key] = p
                else:
                    unkeyed.append(p)
        posted_value: dict[str, Decimal] = defaultdict(lambda: ZERO)
        known_keys = set()
        for v in hub_side["vouchers"]:
            if not target.keeps(v["book"]):
                continue
            if erp not in v["postings"] and v["created_at"] < source.created_at:
                continue  # made before this ERP was connected: not its books
            known_keys.add(v["key"])
            differences.extend(await _compare(connector, v, read_back.get(v["key"]), amap, erp, posted_value))
    erp_value: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for p in [*read_back.values(), *unkeyed]:
        erp_value[p.book] += sum((ln.debit - ln.credit for ln in p.lines if ln.account == inv_code), ZERO)
    for key, p in sorted(read_back.items()):
        if key not in known_keys:
            differences.append(
                _diff(
                    "unknown_in_erp",
                    None,
                    key,
                    p.number,
                    _total(p),
                    f"ERP voucher {p.number} carries key {key}, which the hub never made for {erp}",
                )
            )
    for p in unkeyed:
        differences.append(
            _diff(
                "outside_hub",
                None,
                None,
                p.number,
                _total(p),
                f"ERP voucher {p.number} ({p.date.isoformat()}) was entered outside the hub",
            )
        )
    ledger_value = hub_side["ledger_value"]
    per_entity = {
        e: {"ledger_inventory_change": str(ledger_value.get(e, ZERO)), "posted_inventory_change": str(posted_value.get(e, ZERO)),
            "erp_inventory_change": str(erp_value.get(e, ZERO)), "ledger_closing_value": str(hub_side["closing"].get(e, ZERO)),
            "costing_value": str(hub_side["costing"].get(e, ZERO))}
        for e in entities
    }  # fmt: skip
    return {
        "period": period, "erp": erp, "platform": source.platform, "from": start.isoformat(), "to": end.isoformat(),
        "inventory_account": inv_code, "entities": per_entity,
        "totals": {
            "ledger_inventory_change": str(sum((ledger_value.get(e, ZERO) for e in entities), ZERO)),
            "posted_inventory_change": str(sum((posted_value.get(e, ZERO) for e in entities), ZERO)),
            "erp_inventory_change": str(sum((erp_value.get(e, ZERO) for e in entities), ZERO)),
            "vouchers": len(known_keys), "erp_vouchers": len(read_back) + len(unkeyed),
        },
        "differences": differences, "balanced": not differences,
    }  # fmt: skip


def _diff(kind: str, voucher_id: int | None, key: str | None, erp_number: str | None, amount: Decimal | str | None,
          cause: str) -> dict[str, Any]:  # fmt: skip
    return {"kind": kind, "voucher_id": voucher_id, "key": key, "erp_number": erp_number,
            "amount": None if amount is None else str(amount), "cause": cause}  # fmt: skip


def _total(p: PostedVoucher) -> Decimal:
    return p.total_debit


async def _compare(
    connector: Any,
    v: dict[str, Any],
    back: PostedVoucher | None,
    amap: dict[str, str],
    erp: str,
    posted_value: dict[str, Decimal],
) -> list[dict[str, Any]]:
    posting = v["postings"].get(erp)
    key, vid = v["key"], v["id"]
    if posting is None:
        return [_diff("not_routed", vid, key, None, v["total"], f"voucher {key} was never routed to {erp}")]
    if posting.status == "pending":
        return [_diff("not_posted", vid, key, None, v["total"], f"voucher {key} is pending: not yet posted to {erp}")]
    if posting.status == "failed":
        return [_diff("failed", vid, key, None, v["total"], f"voucher {key} failed in {erp}: {posting.error}")]
    posted_value[v["book"]] += _inv(v["lines"])
    number = posting.erp_number
    if back is None:
        elsewhere = await connector.find(key, book=v["book"])
        if elsewhere is not None:
            return [_diff("wrong_period", vid, key, number, v["total"],
                          f"voucher {key} posted as {number} is dated {elsewhere.date.isoformat()} in the ERP, "
                          f"outside the period")]  # fmt: skip
        return [
            _diff(
                "missing_in_erp",
                vid,
                key,
                number,
                v["total"],
                f"voucher {key} posted as {number} is missing in the ERP",
            )
        ]
    want = sorted(
        (amap.get(ln["account"], ln["account"]), Decimal(ln["debit"]), Decimal(ln["credit"])) for ln in v["lines"]
    )
    have = sorted((ln.account, ln.debit, ln.credit) for ln in back.lines)
    if want != have:
        return [_diff("amount_mismatch", vid, key, back.number, back.total_debit - Decimal(v["total"]),
                      f"voucher {key} posted as {back.number}: the ERP holds debits {back.total_debit} / lines {have}, "
                      f"the hub {v['total']} / lines {want}")]  # fmt: skip
    return []


async def _hub_side(session: AsyncSession, period: str, end: date, *, check_costing: bool) -> dict[str, Any]:
    rows = (
        (await session.execute(select(VoucherRow).where(VoucherRow.period == period).order_by(VoucherRow.id)))
        .scalars()
        .all()
    )
    ids = [r.id for r in rows]
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    postings: dict[int, dict[str, VoucherPosting]] = defaultdict(dict)
    if ids:
        for ln in (await session.execute(select(VoucherLineRow).where(VoucherLineRow.voucher_id.in_(ids)))).scalars():
            lines[ln.voucher_id].append({"account": ln.account, "debit": ln.debit, "credit": ln.credit})
        for p in (await session.execute(select(VoucherPosting).where(VoucherPosting.voucher_id.in_(ids)))).scalars():
            postings[p.voucher_id][p.erp] = p
    vouchers = [{"id": r.id, "key": r.key, "book": r.book, "total": r.total, "lines": lines[r.id],
                 "postings": postings[r.id], "created_at": r.created_at} for r in rows]  # fmt: skip
    # ledger value: per-movement vouchers plus summary-mode parts (never both for one movement)
    ledger_value: dict[str, Decimal] = defaultdict(lambda: ZERO)
    closing: dict[str, Decimal] = defaultdict(lambda: ZERO)
    all_time: dict[str, Decimal] = defaultdict(lambda: ZERO)
    mv = (
        await session.execute(
            select(VoucherRow.id, VoucherRow.book, VoucherRow.date).where(VoucherRow.mode == "movement")
        )
    ).all()
    mv_lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    stmt = select(VoucherLineRow.voucher_id, VoucherLineRow.account, VoucherLineRow.debit, VoucherLineRow.credit).where(
        VoucherLineRow.account == INVENTORY,
        VoucherLineRow.voucher_id.in_(select(VoucherRow.id).where(VoucherRow.mode == "movement")),
    )
    for vid, account, debit, credit in (await session.execute(stmt)).all():
        mv_lines[vid].append({"account": account, "debit": debit, "credit": credit})
    valued = [(book, day, _inv(mv_lines[vid])) for vid, book, day in mv]
    parts = (await session.execute(select(VoucherPart))).scalars().all()
    valued += [(p.book, p.day, _inv(list(p.data.get("lines", [])))) for p in parts]
    for book, day, amount in valued:
        all_time[book] += amount
        if day <= end.isoformat():
            closing[book] += amount
        if day[:7] == period:
            ledger_value[book] += amount
    costing: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entity, value in (await session.execute(select(CostingPositionRow.entity, CostingPositionRow.value))).all():
        costing[entity] += Decimal(value)
    diffs = []
    for entity in sorted(set(costing) | set(all_time)) if check_costing else ():
        if costing[entity] != all_time[entity]:
            diffs.append(_diff("costing", None, None, None, costing[entity] - all_time[entity],
                               f"costing state of {entity} holds {costing[entity]} but its valued movements add up to "
                               f"{all_time[entity]}"))  # fmt: skip
    open_days = sorted({p.day for p in parts if p.summary_voucher_id is None and p.day[:7] == period})
    for day in open_days:
        diffs.append(
            _diff(
                "not_summarised",
                None,
                None,
                None,
                None,
                f"movements of {day} are valued but not yet in a 汇总凭证 (the day has not closed)",
            )
        )
    cursor = await session.get(VoucherCursor, CURSOR)
    newest = await session.scalar(select(func.max(MovementRow.id)))
    if cursor is not None and cursor.error:
        diffs.append(_diff("scan_blocked", None, None, None, None, f"voucher scan is blocked: {cursor.error}"))
    elif newest is not None and (cursor is None or cursor.last_id < newest):
        diffs.append(
            _diff(
                "not_valued",
                None,
                None,
                None,
                None,
                f"movements after id {cursor.last_id if cursor else 0} (up to {newest}) are not yet valued",
            )
        )
    entities = {r.book for r in rows} | set(ledger_value)
    return {"vouchers": vouchers, "entities": entities, "ledger_value": ledger_value, "closing": closing,
            "costing": costing, "ledger_differences": diffs}  # fmt: skip
