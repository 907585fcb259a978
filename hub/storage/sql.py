"""Small dialect helpers so services write one statement for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` with ``on_conflict_do_nothing``/``on_conflict_do_update`` for the session's dialect."""
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    return sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
