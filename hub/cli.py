"""``zhongshu`` — the hub's command line. Every command builds its settings the same way (env + toml)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from hub.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="zhongshu",
    help="Zhongshu (中枢): one authoritative stock ledger for every channel, warehouse and ERP.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
jobs_app = typer.Typer(help="Durable jobs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
console = Console(stderr=True)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default from settings: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings: 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="API processes.")] = 1,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before starting.")] = True,
) -> None:
    """Start the HTTP API (and, without Redis, the in-process job runner)."""
    import uvicorn

    settings = settings_or_exit(host=host, port=port)
    if migrate:
        _upgrade(settings)
    mode = "redis/arq workers" if settings.redis_url else "in-process jobs"
    console.print(
        f"Zhongshu on http://{settings.host}:{settings.port}  ({'SQLite' if settings.is_sqlite else 'PostgreSQL'}, "
        f"{mode})\n  health  /health   API docs  /schema   metrics  /metrics"
    )
    if host:
        os.environ["ZHONGSHU_HOST"] = settings.host
    if port:
        os.environ["ZHONGSHU_PORT"] = str(settings.port)
    uvicorn.run(
        "hub.api.app:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
    )


@app.command()
def up(
    port: Annotated[int | None, typer.Option(help="Hub port (default 8000).")] = None,
) -> None:
    """Embedded demo: migrate the SQLite default, start the hub with in-process jobs (what `make run` does)."""
    serve(host=None, port=port, workers=1, migrate=True)


@app.command()
def worker(
    max_jobs: Annotated[int, typer.Option(min=1, help="Jobs run concurrently by this worker.")] = 20,
) -> None:
    """Run an arq worker (production mode; needs ZHONGSHU_REDIS_URL)."""
    settings = settings_or_exit()
    if not settings.redis_url:
        console.print("[red]error:[/red] ZHONGSHU_REDIS_URL is not set; without Redis, jobs run inside `serve`.")
        raise typer.Exit(2)
    from hub.bootstrap import build_hub
    from hub.jobs.arq_queue import make_worker

    async def build_context() -> Any:
        hub = await build_hub(settings, run_jobs=False)
        hub.ctx.extras["close"] = hub.close
        return hub.ctx

    console.print(f"Zhongshu worker on {settings.redis_url} (max {max_jobs} concurrent jobs)")
    make_worker(build_context, settings.redis_url, max_jobs=max_jobs).run()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations (SQLite or PostgreSQL, from ZHONGSHU_DATABASE_URL)."""
    settings = settings_or_exit()
    _upgrade(settings, revision)
    console.print(f"database at {revision}: {_safe_url(settings.database_url)}")


@jobs_app.command("recover")
def jobs_recover() -> None:
    """Re-deliver every due job from the database (after Redis lost its queue) and re-arm stuck ones."""
    settings = settings_or_exit()

    async def run() -> tuple[int, dict[str, int]]:
        from hub.bootstrap import build_hub
        from hub.jobs import outbox

        hub = await build_hub(settings, run_jobs=False)
        try:
            async with hub.sessionmaker() as session, session.begin():
                ids = await outbox.due_job_ids(session, limit=100_000, stuck_after=settings.job_stuck_after_seconds)
            await hub.queue.kick(ids)
            async with hub.sessionmaker() as session:
                return len(ids), await outbox.counts(session)
        finally:
            await hub.close()

    n, counts = asyncio.run(run())
    console.print(f"re-delivered {n} due job(s); jobs by state: {counts}")


def _upgrade(settings: Settings, revision: str = "head") -> None:
    from hub.storage.migrate import upgrade_blocking

    try:
        upgrade_blocking(settings, revision)
    except Exception as exc:  # noqa: BLE001 - shown as a one-line CLI error
        console.print(f"[red]error:[/red] cannot migrate {_safe_url(settings.database_url)}: {exc}")
        raise typer.Exit(1) from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
