"""Per-record serialisation: a PostgreSQL transaction-scoped advisory lock named after the record.

SQLite needs none (every write transaction takes the database lock at BEGIN IMMEDIATE). Locks are taken in
sorted order so two transactions locking overlapping sets cannot deadlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.storage.sql import core, dialect_of


def lock_id(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


_LOCK_ONE = text("SELECT pg_advisory_xact_lock(:k)")
_LOCK_MANY = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:ks AS bigint[])) AS k")


_HELD = "zhongshu_locks_held"


async def lock(session: AsyncSession, names: Iterable[str]) -> None:
    """Block until this transaction holds the lock for every name (released at commit or rollback)."""
    if dialect_of(session) == "sqlite":
        return
    held = session.info.get(_HELD, frozenset())
    keys = [lock_id(name) for name in sorted(set(names) - held)]
    if not keys:
        return
    conn = await core(session)
    if len(keys) == 1:
        await conn.execute(_LOCK_ONE, {"k": keys[0]})
    else:  # one round trip; unnest yields (and so locks) in the sorted order given
        await conn.execute(_LOCK_MANY, {"ks": keys})


@asynccontextmanager
async def holding(session: AsyncSession, names: Iterable[str]) -> AsyncIterator[None]:
    """Take the locks for ``names`` and, inside the block, let :func:`lock` skip them (a run that locked
    every sku it touches up front needs no round trip per ledger batch). Use no savepoint inside: a
    rolled-back savepoint would release locks taken in it."""
    wanted = frozenset(names)
    await lock(session, wanted)
    before = session.info.get(_HELD, frozenset())
    session.info[_HELD] = before | wanted
    try:
        yield
    finally:
        session.info[_HELD] = before
