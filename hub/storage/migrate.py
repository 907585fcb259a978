"""Apply Alembic migrations programmatically (``zhongshu db upgrade``, ``make run``, test fixtures)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from hub.settings import Settings
from hub.storage.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


async def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database to ``revision``. Safe to run on every start: a no-op when already there."""
    engine = make_engine(settings)  # creates the SQLite folder if needed
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_sync, settings.database_url, revision)
    finally:
        await engine.dispose()


def _upgrade_sync(connection: object, database_url: str, revision: str) -> None:
    cfg = alembic_config(database_url)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def upgrade_blocking(settings: Settings, revision: str = "head") -> None:
    asyncio.run(upgrade(settings, revision))
