"""Unit of work: one transaction, plus the jobs it enqueued, delivered only after the commit."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.jobs import outbox


class UnitOfWork:
    """``async with UnitOfWork(sm, queue) as uow: …; await uow.commit()`` — rolls back unless committed."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], queue: Any) -> None:
        self._sessionmaker = sessionmaker
        self._queue = queue
        self._kicks: list[int] = []
        self.session: AsyncSession

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessionmaker()
        await self.session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.session.in_transaction():
            await self.session.rollback()
        await self.session.close()

    async def enqueue(
        self, name: str, key: str, args: dict[str, Any] | None = None, *, priority: int = 100, delay: float = 0
    ) -> int:
        job_id = await outbox.enqueue(self.session, name, key, args, priority=priority, delay=delay)
        self._kicks.append(job_id)
        return job_id

    async def commit(self) -> None:
        await self.session.commit()
        if self._kicks:
            kicks, self._kicks = self._kicks, []
            await self._queue.kick(kicks)
