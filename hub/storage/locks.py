"""Per-record serialisation: a PostgreSQL transaction-scoped advisory lock named after the record.

SQLite needs none (every write transaction takes the database lock at BEGIN IMMEDIATE). Locks are taken in
sorted order so two transactions locking overlapping sets cannot deadlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def lock_id(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


async def lock(session: AsyncSession, names: Iterable[str]) -> None:
    """Block until this transaction holds the lock for every name (released at commit or rollback)."""
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        return
    keys = [lock_id(name) for name in sorted(set(names))]
    if len(keys) == 1:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": keys[0]})
    elif keys:  # one round trip; unnest yields (and so locks) in the sorted order given
        await session.execute(text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:ks AS bigint[])) AS k"),
                              {"ks": keys})  # fmt: skip
