"""Job handlers by name. A handler is ``async def handler(ctx: JobContext, **args) -> None``.

Handlers must be idempotent: delivery is at-least-once (a worker killed mid-job re-runs it), and a
coalesced job reads the latest state when it runs rather than the state at enqueue time.

A *batch* job (``@job(name, group=...)``) is one whose due rows are worth running together: every
inbound event of a shop, every listing push to a shop. Its handler takes the claimed rows of one group,
``async def handler(ctx, items: list[BatchItem]) -> dict[int, BaseException]``, and returns the failures
by job id (absent = done). The :mod:`hub.jobs.pump` claims such rows in bulk; any other path (the arq
sweep, ``zhongshu jobs recover``) may still run a single row as a batch of one.
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
class BatchItem:
    """One claimed row of a batch job."""

    job_id: int
    args: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Callable[..., Awaitable[Any]]
    max_attempts: int | None = None
    group: Callable[[dict[str, Any]], str] | None = None
    """Set for batch jobs: the rows of one group (a shop, a source) run together, one group at a time."""
    finishes_own: bool = False
    """A batch handler that marks its done rows ``done`` itself (:func:`hub.jobs.outbox.finish`), in the
    transaction that holds their effects: one transaction less per batch. Rows it neither finishes nor
    reports failed stay ``running`` and are re-armed as stuck (at-least-once still holds)."""

    @property
    def batched(self) -> bool:
        return self.group is not None


JOBS: dict[str, JobSpec] = {}


def job(name: str, *, max_attempts: int | None = None, group: Callable[[dict[str, Any]], str] | None = None,
        finishes_own: bool = False) -> Callable[[Callable[..., Awaitable[Any]]], Any]:  # fmt: skip
    """Register a handler under ``name`` (one name, one handler); ``group`` makes it a batch job."""

    def register(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if name in JOBS and JOBS[name].handler is not fn:
            raise RuntimeError(f"job {name!r} registered twice")
        JOBS[name] = JobSpec(name, fn, max_attempts, group, finishes_own)
        return fn

    return register


def batched_names() -> frozenset[str]:
    return frozenset(name for name, spec in JOBS.items() if spec.batched)
