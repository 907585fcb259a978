"""Sync routes: listings with their targets and drift, pushes, the dead-letter list, retries, publish rules."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, get, post, put
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy import select

from hub.api.deps import provide_hub, provide_uow
from hub.bootstrap import Hub
from hub.domain.errors import InvalidRequest, NotFound
from hub.services.uow import UnitOfWork
from hub.storage.models import Source
from hub.storage.models_sync import ListingState, Push
from hub.sync import engine
from hub.sync.publish import PublishRule, PublishRuleError, over_promised, sellable


def push_dict(p: Push) -> dict[str, Any]:
    return {"id": p.id, "lineage_id": f"push:{p.id}", "source": p.source, "sku": p.sku, "target": p.target,
            "mode": p.mode, "sent": p.sent, "expected_before": p.expected_before, "platform_after": p.platform_after,
            "status": p.status, "response": p.response, "explanation": p.explanation, "caused_by": p.caused_by,
            "started_at": p.started_at.isoformat(), "latency_ms": p.latency_ms}  # fmt: skip


class SyncController(Controller):
    path = "/api/v1"
    tags = ["sync"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/pushes", summary="Recent pushes to channels; status=dead is the dead-letter list")
    async def pushes(self, hub: Hub, source: str | None = None, sku: str | None = None, status: str | None = None,
                     limit: Annotated[int, Parameter(ge=1, le=500)] = 100) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(Push)
        for column, value in ((Push.source, source), (Push.sku, sku), (Push.status, status)):
            if value:
                stmt = stmt.where(column == value)
        async with hub.sessionmaker() as session:
            rows = (await session.execute(stmt.order_by(Push.id.desc()).limit(limit))).scalars().all()
        return [push_dict(p) for p in rows]

    @post("/pushes/{push_id:int}/retry", status_code=202, summary="Re-push a listing (reads the latest target)")
    async def retry(self, push_id: int, uow: UnitOfWork) -> dict[str, Any]:
        await engine.retry_dead(uow.session, push_id)
        await uow.commit()
        return {"push_id": push_id, "status": "requeued"}

    @get("/listings", summary="Each channel listing: what it should show, what it was last told, drift")
    async def listings(self, hub: Hub, source: str | None = None, sku: str | None = None) -> list[dict[str, Any]]:
        out = []
        async with hub.sessionmaker() as session:
            sources = (await session.execute(select(Source).order_by(Source.name))).scalars().all()
            for src in sources:
                if source and src.name != source:
                    continue
                for listing_sku in sorted(src.listings or {}):
                    if sku and listing_sku != sku:
                        continue
                    rule = PublishRule.from_config((src.settings or {}).get("publish", {}), src.listings[listing_sku])
                    target = sellable(rule, await engine.free_by_location(session, listing_sku),
                                      now=datetime.now(timezone.utc))  # fmt: skip
                    state = await session.get(ListingState, (src.name, listing_sku))
                    out.append({"source": src.name, "sku": listing_sku, "target": target.value,
                                "explanation": target.explain(), "expected": state.expected if state else None,
                                "drift": state.drift if state else None,
                                "pushed_at": state.pushed_at.isoformat() if state and state.pushed_at else None,
                                "last_push_id": state.last_push_id if state else None})  # fmt: skip
        return out

    @put("/sources/{name:str}/listings/{sku:str}", summary="Set a listing: platform ids and its publish rule")
    async def set_listing(self, name: str, sku: str, data: dict[str, Any], uow: UnitOfWork) -> dict[str, Any]:
        source = await uow.session.get(Source, name)
        if source is None:
            raise NotFound(f"no source {name!r}")
        try:
            PublishRule.from_config((source.settings or {}).get("publish", {}), data)
        except PublishRuleError as exc:
            raise InvalidRequest(str(exc)) from None
        shares = {name: Decimal(str(data.get("share", 1)))}
        for other in (await uow.session.execute(select(Source).where(Source.name != name))).scalars():
            if sku in (other.listings or {}):
                shares[other.name] = Decimal(str(other.listings[sku].get("share", 1)))
        if len(shares) > 1 and over_promised(shares) > 0:
            raise InvalidRequest(f"shares of {sku} across shops add up to {sum(shares.values())}: more than exists "
                                 f"({', '.join(f'{k} {v}' for k, v in sorted(shares.items()))})", field="share")  # fmt: skip
        source.listings = {**(source.listings or {}), sku: data}
        await engine.enqueue_pushes(uow.session, {sku: f"listing:{name}:{sku}"})
        await uow.commit()
        return {"source": name, "sku": sku, "listing": data}

    @post("/sync/reconcile", status_code=202, summary="Read every channel back now and correct drift")
    async def reconcile_now(self, uow: UnitOfWork) -> dict[str, Any]:
        await uow.enqueue("sync.reconcile", "periodic:sync.reconcile", priority=10)
        await uow.commit()
        return {"status": "queued"}
