"""Voucher integration fixtures: an own PostgreSQL database, Kingdee and Yonyou sandboxes, ERP sources,
a hub running jobs in this loop, and the voucher API served over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, update

from connectors.kingdee.sandbox import create_app as kingdee_app
from connectors.testing import run_sandbox
from connectors.yonyou.sandbox import create_app as yonyou_app
from hub.api.controllers.vouchers import VoucherController
from hub.api.errors import EXCEPTION_HANDLERS
from hub.bootstrap import Hub, build_hub
from hub.domain.ledger import make_movement
from hub.services import ledger
from hub.settings import Settings
from hub.storage.migrate import upgrade
from hub.storage.models import Source, utcnow
from hub.storage.models_vouchers import VoucherRow
from hub.vouchers import jobs as voucher_jobs  # noqa: F401  (registers vouchers.scan / vouchers.post)
from hub.vouchers.config import EXTRAS_KEY, VoucherConfig
from hub.vouchers.jobs import run_scan
from hub.vouchers.queries import record_unit_cost
from tests.conftest import PG_ADMIN, _drop_pg_database, _recreate_pg_database, pg_url

KD_APP_ID = "zs0001_" + base64.b64encode(bytes(range(40, 64))).decode()
KD_SECRET, KD_ACCT = "kd-sandbox-app-secret", "zs-demo"
YY_KEY, YY_SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90", "yon-sandbox-secret"
DB = f"zhongshu_vouchers_{os.getpid()}"
CONFIG = VoucherConfig(default_entity="E1", gap_grace_seconds=0.0, retry_base_seconds=0.05, lease_seconds=30.0)
assert PG_ADMIN


@pytest.fixture(scope="session")
def voucher_settings() -> Iterator[Settings]:
    asyncio.run(_recreate_pg_database(DB))
    settings = Settings(database_url=pg_url(DB), redis_url=None, reservation_sweep_seconds=5.0)
    asyncio.run(upgrade(settings))
    yield settings
    asyncio.run(_drop_pg_database(DB))


@pytest.fixture(scope="session")
def voucher_api(voucher_settings: Settings) -> Iterator[str]:
    """The voucher controller on a real HTTP port, with its own hub (another 'process' on the same DB)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        hub = await build_hub(voucher_settings, run_jobs=False)
        hub.ctx.extras[EXTRAS_KEY] = CONFIG
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.close()

    app = Litestar(route_handlers=[VoucherController], lifespan=[lifespan], exception_handlers=EXCEPTION_HANDLERS)
    with run_sandbox(app) as url:
        yield url


@pytest.fixture
async def hub(voucher_settings: Settings) -> AsyncIterator[Hub]:
    hub = await build_hub(voucher_settings, run_jobs=True)
    hub.ctx.extras[EXTRAS_KEY] = CONFIG
    try:
        yield hub
    finally:
        await hub.close()


@pytest.fixture
def kingdee() -> Iterator[str]:
    with run_sandbox(kingdee_app(app_key=KD_APP_ID, app_secret=KD_SECRET, acct_id=KD_ACCT)) as url:
        yield url


@pytest.fixture
def yonyou() -> Iterator[str]:
    with run_sandbox(yonyou_app(app_key=YY_KEY, app_secret=YY_SECRET, calls_per_minute=1000)) as url:
        yield url


@dataclass
class Erps:
    kingdee: str | None  # source names
    yonyou: str | None


async def connect_erps(
    hub: Hub,
    *,
    kingdee: str | None = None,
    yonyou: str | None = None,
    kd_settings: dict[str, Any] | None = None,
    yy_settings: dict[str, Any] | None = None,
) -> Erps:
    """Disable every earlier ERP source and add fresh ones pointed at this test's sandboxes."""
    tag = uuid.uuid4().hex[:8]
    names = Erps(f"kingdee_{tag}" if kingdee else None, f"yonyou_{tag}" if yonyou else None)
    async with hub.sessionmaker() as session, session.begin():
        await session.execute(update(Source).where(Source.platform.in_(["kingdee", "yonyou"])).values(enabled=False))
        if kingdee:
            session.add(
                Source(
                    name=names.kingdee,
                    platform="kingdee",
                    base_url=f"{kingdee}/k3cloud/",
                    enabled=True,
                    credentials=json.dumps({"password": "888888"}).encode(),
                    settings={
                        "auth": "password",
                        "acct_id": KD_ACCT,
                        "username": "administrator",
                        "books": {"E1": "001"},
                        "timeout": 0.4,
                        "retry_attempts": 2,
                        "retry_initial": 0.01,
                        "retry_maximum": 0.02,
                        **(kd_settings or {}),
                    },
                    listings={},
                    created_at=utcnow(),
                )
            )
        if yonyou:
            session.add(
                Source(
                    name=names.yonyou,
                    platform="yonyou",
                    base_url=yonyou,
                    enabled=True,
                    settings={
                        "accbooks": {"E1": "ZS01"},
                        "maker_mobile": "13800000000",
                        "timeout": 0.4,
                        "rate_limit_per_second": 1000,
                        "rate_limit_burst": 1000,
                        "retry_attempts": 2,
                        "retry_initial": 0.01,
                        "retry_maximum": 0.02,
                        "credentials": {"app_key": YY_KEY, "app_secret": YY_SECRET},
                        **(yy_settings or {}),
                    },
                    listings={},
                    created_at=utcnow(),
                )
            )
    return names


async def move(
    hub: Hub,
    key: str,
    kind: str,
    sku: str,
    qty: int,
    frm: str,
    to: str,
    *,
    unit_cost: str | None = None,
    refs: dict[str, str] | None = None,
    shop: str | None = None,
) -> int:
    """Record finance info (if any) and apply one ledger movement; returns its id."""
    async with hub.sessionmaker() as session, session.begin():
        if unit_cost is not None or refs or shop:
            await record_unit_cost(session, key, unit_cost=unit_cost, refs=refs, shop=shop)
        m = make_movement(key=key, sku=sku, qty=qty, source=frm, target=to, kind=kind)
        (result,) = await ledger.apply_movements(session, [m], guarded_buckets=hub.settings.guarded_buckets)
    return result.id


async def newest_voucher_id(hub: Hub) -> int:
    async with hub.sessionmaker() as session:
        return int(await session.scalar(select(func.coalesce(func.max(VoucherRow.id), 0))))


async def settle(hub: Hub, *, now: datetime | None = None, after: int | None = None) -> list[int]:
    """Scan movements into vouchers, run every due job (the post jobs) to completion, and return the ids
    of the vouchers made since ``after`` (the periodic scan of the running hub may have made some)."""
    since = await newest_voucher_id(hub) if after is None else after
    await run_scan(hub.ctx, now=now)
    await hub.queue.drain(timeout=30)
    async with hub.sessionmaker() as session:
        return list(
            (
                await session.execute(select(VoucherRow.id).where(VoucherRow.id > since).order_by(VoucherRow.id))
            ).scalars()
        )


def period_now() -> str:
    return datetime.now(CONFIG.zone).strftime("%Y-%m")


def money(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.01"))


def sandbox_vouchers(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/_sandbox/vouchers").json()
