"""The Alembic migrations create exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.settings import Settings
from hub.storage.engine import make_engine
from hub.storage.models import Base


async def test_migrated_schema_matches_the_models(any_settings: Settings) -> None:
    engine = make_engine(any_settings)
    try:
        async with engine.connect() as conn:
            diff = await _diff(conn)
    finally:
        await engine.dispose()
    assert diff == [], f"models changed without a migration: {diff}"


async def _diff(conn: AsyncConnection) -> list[object]:
    def compare(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": False})  # type: ignore[arg-type]
        return [d for d in compare_metadata(context, Base.metadata) if not _ignorable(d)]

    return await conn.run_sync(compare)


def _ignorable(diff: object) -> bool:
    # SQLite reflects partial-index predicates and some server defaults loosely: ignore index re-creation noise
    return isinstance(diff, tuple) and diff[0] in ("remove_index", "add_index") and "uq_jobs_pending_key" in str(diff)
