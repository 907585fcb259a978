"""Composition root: settings → engine, session factory, job queue, job context. API, worker and CLI all
call :func:`build_hub`, so every process is wired the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.jobs import outbox
from hub.jobs.registry import JobContext
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker


@dataclass
class Hub:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    queue: Any
    ctx: JobContext
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        from hub.channels import close_connectors

        await self.queue.close()
        await close_connectors()
        await self.engine.dispose()


def _import_job_modules() -> None:
    # Importing registers handlers and periodic jobs; one list, so a new job module is added here only.
    import hub.outbound  # noqa: F401
    import hub.services.jobs  # noqa: F401
    import hub.services.polling  # noqa: F401
    import hub.services.enrich  # noqa: F401
    import hub.sync.engine  # noqa: F401
    import hub.sync.reconcile  # noqa: F401
    import hub.vouchers.jobs  # noqa: F401
    import hub.warehouse.jobs  # noqa: F401


async def build_hub(settings: Settings, *, run_jobs: bool | None = None) -> Hub:
    """Wire a hub. ``run_jobs``: start the in-process runner (embedded mode) in this process."""
    _import_job_modules()
    engine = make_engine(settings)
    sessionmaker = make_sessionmaker(engine)
    queue: Any
    if settings.redis_url:
        from hub.jobs.arq_queue import ArqJobQueue

        queue = ArqJobQueue(settings.redis_url)
    else:
        from hub.jobs.local_queue import LocalJobQueue

        queue = LocalJobQueue()
    sessionmaker.configure(info={outbox.QUEUE: queue})  # lets commits deliver their jobs at once
    ctx = JobContext(settings=settings, sessionmaker=sessionmaker, queue=queue)
    hub = Hub(settings, engine, sessionmaker, queue, ctx)
    ctx.extras["hub"] = hub
    if hasattr(queue, "bind"):
        queue.bind(ctx)
    should_run = settings.jobs_in_process if run_jobs is None else run_jobs
    if settings.redis_url:
        await queue.start()
    elif should_run:
        await queue.start()
    return hub
