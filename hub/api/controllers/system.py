"""Health, metrics and lineage."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Response, get
from litestar.di import Provide
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from hub import lineage
from hub.api.deps import provide_hub
from hub.bootstrap import Hub
from hub.jobs import outbox
from hub.metrics import JOBS, REGISTRY


class SystemController(Controller):
    tags = ["system"]
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/health", summary="Liveness and database reachability")
    async def health(self, hub: Hub) -> Response[dict[str, Any]]:
        try:
            async with hub.sessionmaker() as session:
                await session.execute(text("SELECT 1"))
            db = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            db = f"error: {type(exc).__name__}"
        body = {
            "status": "ok" if db == "ok" else "degraded",
            "database": db,
            "database_kind": "sqlite" if hub.settings.is_sqlite else "postgresql",
            "jobs": "redis/arq" if hub.settings.redis_url else "in-process",
        }
        return Response(body, status_code=200 if db == "ok" else 503)

    @get("/metrics", media_type=MediaType.TEXT, summary="Prometheus metrics")
    async def metrics(self, hub: Hub) -> Response[bytes]:
        async with hub.sessionmaker() as session:
            for state, n in (await outbox.counts(session)).items():
                JOBS.labels(state=state).set(n)
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @get("/api/v1/lineage/{node_id:str}", summary="Upstream chain and downstream effects of a record")
    async def lineage(self, node_id: str, hub: Hub) -> dict[str, Any]:
        async with hub.sessionmaker() as session:
            return await lineage.walk(session, node_id)
