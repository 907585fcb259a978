"""Unit of work: one transaction; jobs it enqueues are delivered once it commits (see hub.jobs.outbox)."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.jobs import outbox


class UnitOfWork:
    """``async with UnitOfWork(sm) as uow: …; await uow.commit()`` — rolls back unless committed."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], queue: Any = None) -> None:
        self._sessionmaker = sessionmaker
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
        return await outbox.enqueue(self.session, name, key, args, priority=priority, delay=delay)

    async def commit(self) -> None:
        await self.session.commit()
