"""Dependency providers: the hub wired at start-up, and a unit of work per request."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State

from hub.bootstrap import Hub
from hub.services.uow import UnitOfWork


def provide_hub(state: State) -> Hub:
    hub: Hub = state.hub
    return hub


async def provide_uow(state: State) -> AsyncGenerator[UnitOfWork, None]:
    hub: Hub = state.hub
    async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
        yield uow
