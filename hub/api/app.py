"""The Litestar application: ``create_app(settings)`` wires routes, errors, OpenAPI and the hub's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from hub.api.controllers.admin import AdminController
from hub.api.controllers.ledger import LedgerController
from hub.api.controllers.pipeline import PipelineController
from hub.api.controllers.sync import SyncController
from hub.api.controllers.vouchers import VoucherController
from hub.api.controllers.warehouse import WarehouseController
from hub.api.controllers.webhooks import WebhookController
from hub.api.controllers.subscriptions import SubscriptionsController
from hub.api.controllers.system import SystemController
from hub.api.errors import EXCEPTION_HANDLERS
from hub.bootstrap import build_hub
from hub.console import console_router
from hub.security import AuditMiddleware, AuthMiddleware, InboundLimitMiddleware, enforce_roles, secure_app
from hub.security.startup import security_startup
from hub.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        hub = await build_hub(settings)
        app.state.hub = hub
        await security_startup(hub)
        try:
            yield
        finally:
            await hub.close()

    app = Litestar(
        route_handlers=[SystemController, LedgerController, PipelineController, WebhookController, SyncController,
                        VoucherController, AdminController,
                        SubscriptionsController, WarehouseController,
                        console_router()],
        middleware=[InboundLimitMiddleware, AuthMiddleware, AuditMiddleware],
        guards=[enforce_roles],
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
    undeclared = secure_app(app)  # roles per route, in the OpenAPI schema too; undeclared routes are refused
    if undeclared:
        logging.getLogger("zhongshu.security").error("routes without a declared role (refused): %s", undeclared)
    return app


def app_from_env() -> Litestar:
    """Factory for ``uvicorn --factory hub.api.app:app_from_env`` (settings from the environment)."""
    return create_app()
