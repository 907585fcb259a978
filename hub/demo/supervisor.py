"""``zhongshu up``: the embedded hub plus every sandbox as a demo shop or system, registered as sources,
with gentle traffic flowing, until Ctrl-C stops everything it started.

Order of things: migrate → admin and the supervisor's token → sandboxes (in parallel) → the hub
(``zhongshu serve``, in-process jobs) → sources, credentials, first WMS snapshot, listings → table → traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass

import httpx
from rich.console import Console
from rich.table import Table

from hub.demo import catalog
from hub.demo.access import Access, prepare_access
from hub.demo.processes import Child, ChildError, spawn, spawn_sandbox, stop_all, wait_listening
from hub.demo.register import RegistrationError, register_all, seed_stock, wait_healthy
from hub.aio import wait_event
from hub.demo.traffic import Traffic, wms_snapshot
from hub.settings import Settings

__all__ = ["DEFAULT_SANDBOX_PORT", "DemoError", "DemoOptions", "run_demo"]

DEFAULT_SANDBOX_PORT = 8101
QUIET_HUB = ("import logging; logging.getLogger('httpx').setLevel(logging.WARNING); "
             "from hub.cli import main; main()")
"""``zhongshu serve`` without a log line per outbound HTTP call (the demo makes many)."""


class DemoError(RuntimeError):
    """The demo could not start; the message says what and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    sandbox_port: int = DEFAULT_SANDBOX_PORT
    """First sandbox port (the nine sandboxes take it and the next eight); 0: any free ports."""
    interval: tuple[float, float] = (1.0, 3.0)
    """Seconds between two demo events, drawn uniformly from this range."""
    snapshot_every: float = 30.0
    """Seconds between two WMS inventory snapshots."""
    quiet: bool = False
    """Do not print a line per demo event."""
    seed: int | None = None


def hub_env(settings: Settings) -> dict[str, str]:
    """The hub child's environment: ours, with the settings this run resolved (so both use one database)."""
    env = dict(os.environ)
    env.update({"ZHONGSHU_DATABASE_URL": settings.database_url, "ZHONGSHU_VAR_DIR": str(settings.var_dir),
                "ZHONGSHU_HOST": settings.host, "ZHONGSHU_PORT": str(settings.port)})  # fmt: skip
    env.setdefault("ZHONGSHU_LOG_LEVEL", "WARNING")  # keep the terminal for the demo's own lines
    env.pop("ZHONGSHU_REDIS_URL", None)  # the demo is the embedded mode: jobs run inside the hub process
    return env


def run_demo(settings: Settings, options: DemoOptions, console: Console) -> int:
    """Run until SIGINT/SIGTERM; returns the exit code. Every child is gone when this returns."""
    from hub.storage.migrate import upgrade_blocking

    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        raise DemoError(f"the demo binds loopback only; ZHONGSHU_HOST is {settings.host!r}")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade_blocking(settings)
    access = asyncio.run(prepare_access(settings))
    host = "[::1]" if settings.host == "::1" else "127.0.0.1"
    hub_url = f"http://{host}:{settings.port}"
    children: list[Child] = []
    try:
        sandboxes = []
        for i, demo in enumerate(catalog.DEMOS):
            port = options.sandbox_port + i if options.sandbox_port else 0
            child = spawn_sandbox(demo.source, demo.factory, catalog.sandbox_kwargs(demo, hub_url), port=port)
            children.append(child)
            sandboxes.append(child)
        hub = spawn("hub", [sys.executable, "-c", QUIET_HUB, "serve", "--no-migrate"], env=hub_env(settings))
        children.append(hub)
        wait_listening(sandboxes)
        urls = {c.name: c.url for c in sandboxes}
        return asyncio.run(_run(settings, options, console, access, hub_url, hub, urls, children))
    except (ChildError, RegistrationError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        console.print("stopping the demo…")
        stop_all(children)
        console.print(f"stopped {len(children)} process(es): the hub and {len(children) - 1} sandbox(es)")


async def _run(settings: Settings, options: DemoOptions, console: Console, access: Access, hub_url: str, hub: Child,
               urls: dict[str, str], children: list[Child]) -> int:  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    headers = {"Authorization": f"Bearer {access.token}"}
    async with httpx.AsyncClient(base_url=hub_url, headers=headers, timeout=30) as api:
        await wait_healthy(hub_url, alive=lambda: hub.proc.poll() is None)
        if stop.is_set():
            return 0
        await register_all(api, urls, hub_url)
        await seed_stock(api, lambda: wms_snapshot(api, urls["wms"]), urls)
        console.print(_table(settings, hub_url, access, urls))
        say = (lambda _: None) if options.quiet else (lambda line: console.print(line, highlight=False))
        traffic = Traffic(api, urls, say, interval=options.interval, snapshot_every=options.snapshot_every,
                          seed=options.seed)  # fmt: skip
        task = asyncio.create_task(traffic.run(stop), name="demo-traffic")
        died = await _watch(children, stop)
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=20)
    console.print(f"demo traffic: {traffic.sent} event(s) sent, {traffic.failed} failed")
    if died:
        console.print(f"[red]error:[/red] {died} exited unexpectedly; stopping the rest")
        return 1
    return 0


async def _watch(children: list[Child], stop: asyncio.Event) -> str | None:
    """Until ``stop``: the name of the first child that died, if one does."""
    while not stop.is_set():
        for child in children:
            if child.proc.poll() is not None:
                return f"{child.name} (exit code {child.proc.returncode})"
        await wait_event(stop, 1.0)
    return None


def _table(settings: Settings, hub_url: str, access: Access, urls: dict[str, str]) -> Table:
    table = Table(title="Zhongshu (中枢) demo — Ctrl-C stops everything", title_justify="left",
                  caption=f"admin login: user [bold]admin[/bold], password in {access.password_source}\n"
                          f"admin API token (for the API docs' Authorize): {access.token_file}\n"
                          f"every sandbox: GET /_sandbox/stock, GET /_sandbox/log, POST /_sandbox/events",
                  caption_justify="left")  # fmt: skip
    table.add_column("what")
    table.add_column("where", overflow="fold")  # a URL is never cut short, however narrow the terminal
    table.add_column("hub source")
    db = settings.database_url.split("///", 1)[-1] if settings.is_sqlite else "PostgreSQL"
    table.add_row("hub (in-process jobs)", f"{hub_url}  [dim]/health[/dim]", db)
    table.add_row("console", f"{hub_url}/console", "")
    table.add_row("API docs", f"{hub_url}/schema", "")
    for demo in catalog.DEMOS:
        if demo.source in urls:
            table.add_row(demo.title, f"{urls[demo.source]}/_sandbox/", f"{demo.source} ({demo.platform})")
    return table
