"""Polling: for platforms that cannot push (JD) or queue messages for us (Taobao TMC), or as the
reconciling second path next to pushes. A page's events and the cursor after it commit together, and a
message-queue confirm happens only after that commit — nothing acknowledged is ever not stored."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from connectors.base import Capability
from hub import inbox
from hub.channels import connector_of
from hub.jobs.registry import JobContext, job
from hub.jobs.scheduler import every
from hub.services.uow import UnitOfWork
from hub.storage.models import Cursor, Source, utcnow

log = logging.getLogger("zhongshu.polling")
MAX_PAGES_PER_RUN = 20


def streams_of(source: Source, connector_streams: tuple[str, ...]) -> list[str]:
    wanted = (source.settings or {}).get("poll_streams")
    if isinstance(wanted, list):
        return [s for s in wanted if s in connector_streams]
    return list(connector_streams[:1])


@job("poll.tick")
async def poll_tick(ctx: JobContext) -> None:
    """Enqueue one coalescing poll job per (source, stream) that polls."""
    async with ctx.sessionmaker() as session:
        sources = (await session.execute(select(Source).where(Source.enabled.is_(True)))).scalars().all()
    async with UnitOfWork(ctx.sessionmaker, ctx.queue) as uow:
        for source in sources:
            try:
                connector = connector_of(ctx.settings, source)
            except Exception as exc:  # noqa: BLE001 - one misconfigured source must not stop the others
                log.warning("source %s: %s", source.name, exc)
                continue
            if not connector.supports(Capability.POLL) or (source.settings or {}).get("poll") is False:
                continue
            for stream in streams_of(source, tuple(getattr(connector, "streams", ()))):
                await uow.enqueue("poll.source", f"poll:{source.name}:{stream}", {"source": source.name, "stream": stream})
        await uow.commit()


@job("poll.source")
async def poll_source(ctx: JobContext, source: str, stream: str) -> None:
    for _ in range(MAX_PAGES_PER_RUN):
        if not await _one_page(ctx, source, stream):
            return


async def _one_page(ctx: JobContext, name: str, stream: str) -> bool:
    async with ctx.sessionmaker() as session:
        source = await session.get(Source, name)
        if source is None or not source.enabled:
            return False
        connector = connector_of(ctx.settings, source)
        row = await session.get(Cursor, (name, stream))
        cursor = row.cursor if row else None
    page = await connector.poll(stream, cursor)
    async with UnitOfWork(ctx.sessionmaker, ctx.queue) as uow:
        for event in page.events:
            body = json.dumps(event.payload, ensure_ascii=False, default=str).encode()
            await inbox.store_and_enqueue(uow, source=name, platform_event_id=event.event_id, topic=event.topic,
                                          body=body, payload=event.payload, headers={"via": f"poll:{stream}"},
                                          verification="polled over the platform's signed API")  # fmt: skip
        saved = await uow.session.get(Cursor, (name, stream))
        if saved is None:
            uow.session.add(Cursor(source=name, stream=stream, cursor=page.next_cursor, updated_at=utcnow()))
        else:
            saved.cursor, saved.updated_at, saved.last_error = page.next_cursor, utcnow(), None
        await uow.commit()
    confirm = getattr(connector, "confirm", None)
    if confirm is not None and page.events:
        await confirm([e.event_id for e in page.events])  # after the commit: an unconfirmed message comes back
    return bool(page.has_more)


every("poll.tick", "poll_interval_seconds")
