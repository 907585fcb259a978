"""Job handlers by name. A handler is ``async def handler(ctx: JobContext, **args) -> None``.

Handlers must be idempotent: delivery is at-least-once (a worker killed mid-job re-runs it), and a
coalesced job reads the latest state when it runs rather than the state at enqueue time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.settings import Settings


@dataclass
class JobContext:
    """What a handler may use; built once per process by :mod:`hub.bootstrap`."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    queue: Any  # JobQueue; Any avoids an import cycle
    extras: dict[str, Any] = field(default_factory=dict)


class JobHandler(Protocol):
    def __call__(self, ctx: JobContext, **kwargs: Any) -> Awaitable[None]: ...


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Callable[..., Awaitable[None]]
    max_attempts: int | None = None


JOBS: dict[str, JobSpec] = {}


def job(name: str, *, max_attempts: int | None = None) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """Register a handler under ``name`` (one name, one handler)."""

    def register(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        if name in JOBS and JOBS[name].handler is not fn:
            raise RuntimeError(f"job {name!r} registered twice")
        JOBS[name] = JobSpec(name, fn, max_attempts)
        return fn

    return register
