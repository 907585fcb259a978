"""The Litestar application: ``create_app(settings)`` wires routes, errors, OpenAPI and the hub's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from hub.api.controllers.ledger import LedgerController
from hub.api.controllers.pipeline import PipelineController
from hub.api.controllers.system import SystemController
from hub.api.errors import EXCEPTION_HANDLERS
from hub.bootstrap import build_hub
from hub.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        hub = await build_hub(settings)
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.close()

    return Litestar(
        route_handlers=[SystemController, LedgerController, PipelineController],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Zhongshu (中枢) inventory hub",
            version="0.1.0",
            description="One authoritative stock ledger for every channel, warehouse and ERP.",
            path="/schema",
        ),
        request_max_body_size=1024 * 1024,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Factory for ``uvicorn --factory hub.api.app:app_from_env`` (settings from the environment)."""
    return create_app()
