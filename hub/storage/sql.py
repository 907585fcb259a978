"""Small dialect helpers so services write one statement for SQLite and PostgreSQL, and the hot paths'
way to the database: Core statements on the session's own connection.

An ORM ``session.execute`` costs 160-250 µs of Python per statement on this machine, a prebuilt Core
statement on the session's connection about 80 µs, and a Core statement built afresh for each call ~140 µs;
rows sent as one executemany cost ~5 µs each (``python -m bench.statement_cost``). So the paths every event
takes (ledger, reservations, jobs, lineage, observations, views, pushes) build their statements once per
dialect (:func:`per_dialect`) and run them with :func:`core` — after pending ORM changes are flushed, so ORM
and Core statements of one transaction still happen in the order the code wrote them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

T = TypeVar("T")


def dialect_of(session: AsyncSession | AsyncConnection) -> str:
    bind = session.bind if isinstance(session, AsyncSession) else session.engine
    return bind.dialect.name if bind is not None else "postgresql"


def insert_for(dialect: str, table: Any) -> Any:
    """``INSERT`` with ``on_conflict_do_nothing``/``on_conflict_do_update`` for ``dialect``."""
    return sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)


def insert(session: AsyncSession, table: Any) -> Any:
    """:func:`insert_for` the session's dialect."""
    return insert_for(dialect_of(session), table)


def least(dialect: str, a: Any, b: Any) -> Any:
    """The smaller of two values in SQL (``LEAST`` on PostgreSQL, two-argument ``min`` on SQLite)."""
    return func.min(a, b) if dialect == "sqlite" else func.least(a, b)


def per_dialect(build: Callable[[str], T]) -> Callable[[str], T]:
    """Cache a statement builder per dialect name: the statement is built (and its cache key made) once."""
    return functools.cache(build)


async def core(session: AsyncSession) -> AsyncConnection:
    """The session's connection for Core statements, with the session's pending ORM changes flushed."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    return await session.connection()
