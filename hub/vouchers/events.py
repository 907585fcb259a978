"""Outbound events of the voucher engine: ``voucher.posted`` and ``voucher.failed``.

The hook calls ``hub.outbound.emit(session, event_type, payload)`` when that module exists (the
outbound-webhooks part of the hub), in the caller's transaction so an event is never emitted for a
status that was rolled back; until then it only logs.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("zhongshu.vouchers")


async def emit_voucher_event(
    session: AsyncSession, event_type: str, payload: dict[str, Any], *, parents: tuple[str, ...] = ()
) -> None:
    try:
        outbound = importlib.import_module("hub.outbound")
    except ImportError:
        outbound = None
    emit = getattr(outbound, "emit", None)
    if emit is None:
        log.info("%s %s (no hub.outbound.emit yet)", event_type, payload.get("key"))
        return
    await emit(session, event_type, payload, parents=list(parents))
