"""The inbox: every inbound payload kept verbatim and committed *before* the platform is acknowledged.

Unique per (source, platform event id): a redelivered webhook or re-polled message is stored once and
processed once. Refused payloads (bad signature, expired) are stored too, as ``refused``, never processed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub import lineage
from hub.services.uow import UnitOfWork
from hub.storage.models import RawEvent, utcnow
from hub.storage.sql import core, dialect_of, insert_for, per_dialect

PROCESS_JOB = "inbox.process"


@dataclass(frozen=True, slots=True)
class Stored:
    raw_event_id: int
    duplicate: bool


async def store(
    session: AsyncSession,
    *,
    source: str,
    platform_event_id: str,
    body: bytes,
    topic: str = "",
    headers: Mapping[str, str] | None = None,
    verified: bool = True,
    verification: str = "",
    status: str = "pending",
    payload: Any = None,
) -> Stored:
    values = {"payload": payload,
        "source": source, "platform_event_id": platform_event_id[:200], "topic": topic[:200],
        "received_at": utcnow(), "headers": dict(headers or {}), "body": body, "verified": verified,
        "verification": verification[:500], "status": status, "error": None, "processed_at": None,
    }  # fmt: skip
    conn = await core(session)
    row = (await conn.execute(_insert(dialect_of(session)), values)).first()
    if row is None:
        existing = (await conn.execute(_EXISTING, {"s": source, "e": platform_event_id[:200]})).scalar()
        assert existing is not None
        return Stored(int(existing), True)
    raw_id = int(row[0])
    label = f"{source} {topic} {platform_event_id}".strip()
    await lineage.record(session, f"raw:{raw_id}", kind="raw_event", label=label, data={"source": source})
    return Stored(raw_id, False)


_R = RawEvent.__table__
_EXISTING = select(_R.c.id).where(_R.c.source == bindparam("s"), _R.c.platform_event_id == bindparam("e"))


@per_dialect
def _insert(dialect: str) -> Any:
    return insert_for(dialect, _R).on_conflict_do_nothing(index_elements=["source", "platform_event_id"]).returning(
        _R.c.id)


async def store_and_enqueue(uow: UnitOfWork, **kwargs: Any) -> Stored:
    """Store an event and, if it is to be processed, enqueue that in the same transaction."""
    stored = await store(uow.session, **kwargs)
    if not stored.duplicate and kwargs.get("status", "pending") == "pending":
        await uow.enqueue(PROCESS_JOB, f"raw:{stored.raw_event_id}",
                          {"raw_event_id": stored.raw_event_id, "source": kwargs.get("source", "")})  # fmt: skip
    return stored


async def record_refusal(sessionmaker: Any, *, source: str, reason: str, headers: Mapping[str, str],
                         body: bytes = b"") -> None:  # fmt: skip
    """Keep a trace of a push refused before its connector could look at it (unknown instance, oversize):
    an operator sees it in the inbox as ``refused``; nothing ever processes it."""
    import time

    async with sessionmaker() as session, session.begin():
        await store(session, source=source[:100], platform_event_id=f"refused:{time.time_ns()}", body=body[:65536],
                    headers=dict(headers), verified=False, verification=reason, status="refused")  # fmt: skip
