"""Post one voucher to one ERP: lease, map accounts, ``connector.post`` (query-before-save inside),
record posted | failed, lineage and events.

Outcomes: a refusal (`VoucherRefused`: closed period, unknown account…) or any other permanent
error → ``failed`` with the ERP's own message — the dead letter, retried by an operator once the
mapping or the ERP is fixed. A transient error (timeout, 5xx, throttling) → ``RetryLater`` with
exponential backoff, until ``max_post_attempts``, then ``failed`` too. The connector's own
query-after-timeout means a save that landed before a timeout is found, never saved twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import PermanentError, TransientError
from connectors.registry import RegistryError
from connectors.vouchers import Voucher, VoucherError
from connectors.vouchers.erp import PostedVoucher, VoucherRefused
from hub import lineage
from hub.jobs.executor import RetryLater
from hub.storage.models import Source, utcnow
from hub.storage.models_vouchers import VoucherLineRow, VoucherPosting, VoucherRow
from hub.vouchers.config import VoucherConfig
from hub.vouchers.erps import account_map, connector_for
from hub.vouchers.events import emit_voucher_event

log = logging.getLogger("zhongshu.vouchers")


@dataclass(frozen=True)
class PostOutcome:
    status: str  # posted | failed | skipped
    posting_id: int
    erp_number: str | None = None
    error: str | None = None


async def load_voucher(session: AsyncSession, voucher_id: int) -> Voucher:
    """The stored voucher (logical accounts) rebuilt from its lines."""
    row = await session.get(VoucherRow, voucher_id)
    if row is None:
        raise LookupError(f"no voucher {voucher_id}")
    lines = (
        (
            await session.execute(
                select(VoucherLineRow).where(VoucherLineRow.voucher_id == voucher_id).order_by(VoucherLineRow.seq)
            )
        )
        .scalars()
        .all()
    )
    data = {
        "key": row.key, "book": row.book, "date": row.date, "group": (row.data or {}).get("group", "记"),
        "source_movement_ids": (row.data or {}).get("source_movement_ids", []),
        "lines": [{"account": ln.account, "debit": ln.debit, "credit": ln.credit, "summary": ln.summary,
                   "dims": ln.dims or {}, "movement_ids": ln.movement_ids or []} for ln in lines],
    }  # fmt: skip
    return Voucher.from_dict(data)


async def post_one(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Any, config: VoucherConfig, posting_id: int
) -> PostOutcome:
    """Post ``posting_id`` if it is pending; raises ``RetryLater`` on a transient failure."""
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        claimed = (
            await session.execute(
                update(VoucherPosting)
                .where(VoucherPosting.id == posting_id, VoucherPosting.status == "pending",
                       or_(VoucherPosting.lease_until.is_(None), VoucherPosting.lease_until < now))
                .values(lease_until=now + timedelta(seconds=config.lease_seconds), attempts=VoucherPosting.attempts + 1,
                        updated_at=now)
                .returning(VoucherPosting.attempts)
            )
        ).first()  # fmt: skip
        posting = await session.get(VoucherPosting, posting_id)
        if posting is None or posting.status != "pending":
            return PostOutcome("skipped", posting_id)
        if claimed is None:
            raise RetryLater(
                config.lease_seconds / 4, f"voucher posting {posting_id} is being posted by another worker"
            )
        attempts = int(claimed[0])
        voucher_id, erp = posting.voucher_id, posting.erp
        voucher = await load_voucher(session, voucher_id)
        source = await session.get(Source, erp)
    try:
        if source is None or not source.enabled:
            raise PermanentError(f"ERP source {erp!r} is not configured or is disabled")
        mapped = voucher.with_accounts(account_map(config.templates(), source))
        async with connector_for(settings, source) as connector:
            posted: PostedVoucher = await connector.post(mapped)  # type: ignore[attr-defined]
    except VoucherRefused as exc:
        return await _failed(sessionmaker, posting_id, voucher_id, voucher, erp, "; ".join(exc.erp_messages) or str(exc),
                             exc.erp_code)  # fmt: skip
    except (PermanentError, VoucherError, RegistryError) as exc:
        return await _failed(
            sessionmaker, posting_id, voucher_id, voucher, erp, _message(exc), getattr(exc, "code", None)
        )
    except TransientError as exc:
        if attempts >= config.max_post_attempts:
            return await _failed(sessionmaker, posting_id, voucher_id, voucher, erp,
                                 f"gave up after {attempts} attempts: {_message(exc)}", exc.code)  # fmt: skip
        await _release(sessionmaker, posting_id, _message(exc))
        raise RetryLater(min(300.0, config.retry_base_seconds * 2 ** (attempts - 1)), _message(exc)) from exc
    except BaseException as exc:
        await _release(sessionmaker, posting_id, _message(exc))
        raise
    return await _posted(sessionmaker, posting_id, voucher_id, voucher, erp, posted)


def _message(exc: BaseException) -> str:
    detail = getattr(exc, "detail", None)
    message = getattr(exc, "message", None) or str(exc)
    return f"{message}: {detail}" if detail and detail not in message else message


async def _release(sessionmaker: async_sessionmaker[AsyncSession], posting_id: int, error: str) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(VoucherPosting).where(VoucherPosting.id == posting_id)
            .values(lease_until=None, error=error[:4000], updated_at=utcnow())
        )  # fmt: skip


async def _posted(
    sessionmaker: async_sessionmaker[AsyncSession],
    posting_id: int,
    voucher_id: int,
    voucher: Voucher,
    erp: str,
    posted: PostedVoucher,
) -> PostOutcome:
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(VoucherPosting).where(VoucherPosting.id == posting_id).values(
                status="posted", erp_id=posted.erp_id, erp_number=posted.number, already_posted=posted.already_posted,
                error=None, erp_code=None, lease_until=None, posted_at=now, updated_at=now)
        )  # fmt: skip
        await lineage.record(
            session, f"voucher_post:{posting_id}", kind="voucher_post",
            label=f"{erp}: voucher {voucher.key} posted as {posted.number}", parents=[f"voucher:{voucher_id}"],
            data={"erp": erp, "erp_id": posted.erp_id, "erp_number": posted.number,
                  "already_posted": posted.already_posted},
        )  # fmt: skip
        await emit_voucher_event(session, "voucher.posted", {
            "voucher_id": voucher_id, "key": voucher.key, "erp": erp, "erp_id": posted.erp_id,
            "erp_number": posted.number, "book": voucher.book, "date": voucher.date.isoformat(),
            "total": str(voucher.total_debit), "lineage_id": f"voucher:{voucher_id}"},
            parents=(f"voucher_post:{posting_id}",))  # fmt: skip
    return PostOutcome("posted", posting_id, erp_number=posted.number)


async def _failed(
    sessionmaker: async_sessionmaker[AsyncSession],
    posting_id: int,
    voucher_id: int,
    voucher: Voucher,
    erp: str,
    error: str,
    code: str | None,
) -> PostOutcome:
    log.warning("voucher %s to %s failed: %s", voucher.key, erp, error)
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(VoucherPosting).where(VoucherPosting.id == posting_id).values(
                status="failed", error=error[:4000], erp_code=(code or "")[:60] or None, lease_until=None,
                updated_at=utcnow())
        )  # fmt: skip
        await emit_voucher_event(session, "voucher.failed", {
            "voucher_id": voucher_id, "key": voucher.key, "erp": erp, "error": error, "erp_code": code,
            "lineage_id": f"voucher:{voucher_id}"}, parents=(f"voucher:{voucher_id}",))  # fmt: skip
    return PostOutcome("failed", posting_id, error=error)
