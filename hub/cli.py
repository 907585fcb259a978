"""``zhongshu`` — the hub's command line. Every command builds its settings the same way (env + toml)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from hub.cli_channels import channels_app
from hub.cli_connectors import connector_app, connectors_app, sandbox_command
from hub.cli_security import mount as mount_security
from hub.cli_vouchers import vouchers_app
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
mappings_app = typer.Typer(help="Declarative mapping rules (raw payload → observations).", no_args_is_help=True)
rules_app = typer.Typer(help="Arbitration rules (disagreeing sources → one figure).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(mappings_app, name="mappings")
app.add_typer(vouchers_app, name="vouchers")
app.add_typer(connectors_app, name="connectors")
app.add_typer(channels_app, name="channels")
app.add_typer(connector_app, name="connector")
app.command("sandbox")(sandbox_command)
mount_security(app)
app.add_typer(rules_app, name="rules")
console = Console(stderr=True)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


WORKER_HEALTHCHECK_SECONDS = 60
KEEP_ALIVE_SECONDS = 75

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
        # uvicorn kills a worker that misses a 5 s health ping and drops its open requests; a worker that is
        # only starved of CPU (a burst, a busy small machine) must not lose what it is answering
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        # longer than the idle time of the pools that call us (platform webhook senders, load balancers: 60 s),
        # so we never close a connection just as a client sends on it (that request would be lost mid-air)
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@app.command()
def up(
    port: Annotated[int | None, typer.Option(help="Hub port (default 8000).")] = None,
    demo: Annotated[bool, typer.Option(help="Sandboxes as demo shops with traffic (--no-demo: hub only).")] = True,
    sandbox_ports: Annotated[int, typer.Option(help="First of 9 consecutive sandbox ports (0: any free).")] = 8101,
    var_dir: Annotated[Path | None, typer.Option(help="Folder for database, keys, password, token (./var).")] = None,
    interval: Annotated[str, typer.Option(help="Seconds between demo events, MIN:MAX.")] = "1:3",
    snapshot_every: Annotated[float, typer.Option(min=0.5, help="Seconds between WMS inventory snapshots.")] = 30.0,
    quiet: Annotated[bool, typer.Option(help="Do not print a line per demo event.")] = False,
) -> None:
    """Embedded demo (what `make run` does): the hub on SQLite with in-process jobs, every sandbox as a demo
    shop or system registered as a source, gentle traffic between them."""
    settings = _up_settings(port, var_dir)
    if not demo:
        _upgrade(settings)
        os.environ.update({"ZHONGSHU_DATABASE_URL": settings.database_url, "ZHONGSHU_VAR_DIR": str(settings.var_dir)})
        serve(host=None, port=settings.port, workers=1, migrate=False)
        return
    from hub.demo import DemoError, DemoOptions, run_demo

    try:
        low, _, high = interval.partition(":")
        bounds = (float(low), float(high or low))
        if not 0 < bounds[0] <= bounds[1]:
            raise ValueError
    except ValueError:
        console.print(f"[red]error:[/red] --interval must be MIN:MAX seconds with 0 < MIN <= MAX, got {interval!r}")
        raise typer.Exit(2) from None
    options = DemoOptions(sandbox_port=sandbox_ports, interval=bounds, snapshot_every=snapshot_every, quiet=quiet)
    try:
        code = run_demo(settings, options, console)
    except DemoError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def _up_settings(port: int | None, var_dir: Path | None) -> Settings:
    """Settings of `up`: with --var-dir, the embedded database lives there too (unless a database URL is set)."""
    overrides: dict[str, Any] = {"port": port}
    if var_dir is not None:
        overrides["var_dir"] = var_dir
        if settings_or_exit().database_url == Settings.model_fields["database_url"].default:
            overrides["database_url"] = f"sqlite+aiosqlite:///{var_dir}/zhongshu.db"
    return settings_or_exit(**overrides)


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


@mappings_app.command("check")
def mappings_check() -> None:
    """Validate every mapping rule file against the semantic dictionary."""
    from mappings import load_rules
    from semantic_layer.dictionary import load_dictionary

    try:
        problems = load_rules(strict=True).check(load_dictionary())
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    for problem in problems:
        console.print(f"[red]problem:[/red] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print("mapping rules: ok")


@mappings_app.command("try")
def mappings_try(
    rule: Annotated[str, typer.Argument(help="Rule id, e.g. douyin.sku_stock_change (connector.rule).")],
    payload_file: Annotated[Path, typer.Argument(help="JSON payload, or a fixture {topic, payload}.", exists=True)],
    topic: Annotated[str | None, typer.Option(help="Topic, if the file is a bare payload.")] = None,
) -> None:
    """Print the observations and orders a payload would give, without storing anything."""
    from mappings import load_rules

    doc = _read_json(payload_file)
    payload = doc.get("payload", doc) if isinstance(doc, dict) else doc
    topic = topic or (doc.get("topic") if isinstance(doc, dict) else None) or ""
    result = load_rules().apply(rule.split(".", 1)[0], topic, payload, raw_event_id=None,
                                received_at=datetime.now(timezone.utc), rule_id=rule)  # fmt: skip
    out = {"rule": result.rule_id, "version": result.rule_version, "unmapped": result.unmapped,
           "errors": list(result.errors), "observations": [_plain(o) for o in result.observations],
           "orders": [_plain(o) for o in result.orders], "deltas": [_plain(d) for d in result.deltas]}  # fmt: skip
    print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    if result.unmapped or (result.errors and not result.observations and not result.orders):
        raise typer.Exit(1)


@rules_app.command("check")
def rules_check(path: Annotated[Path | None, typer.Argument(help="Rule file or folder (default: shipped).")] = None) -> None:
    """Validate arbitration rule files; each problem names the file and rule."""
    from conflict_rules import check
    from conflict_rules.rules import DEFAULT_FILE

    problems = check(path or DEFAULT_FILE)
    for problem in problems:
        console.print(f"[red]problem:[/red] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print("arbitration rules: ok")


@rules_app.command("try")
def rules_try(
    claims_file: Annotated[Path, typer.Argument(help="JSON list of {source, stock_type, value, observed_at}.", exists=True)],
    current: Annotated[int | None, typer.Option(help="The ledger's current figure for the cell.")] = None,
) -> None:
    """Dry-run arbitration: which claim wins, or whether it goes to quarantine, and why."""
    from conflict_rules import load_rules
    from conflict_rules.engine import arbitrate
    from conflict_rules.model import Claim
    from semantic_layer.dictionary import load_dictionary

    dictionary = load_dictionary()
    try:
        claims = [Claim(source=c["source"], stock_type=c["stock_type"], value=int(c["value"]),
                        observed_at=datetime.fromisoformat(c["observed_at"]),
                        trust=int(c.get("trust", dictionary.trust(c["source"]))),
                        tolerance=dictionary.tolerance(c["source"])) for c in _read_json(claims_file)]  # fmt: skip
        decision = arbitrate(claims, current, load_rules())
    except (KeyError, TypeError, ValueError) as exc:
        console.print(f"[red]error:[/red] bad claims file: {exc}")
        raise typer.Exit(2) from None
    print(json.dumps({"outcome": decision.outcome, "value": decision.value, "chosen": decision.chosen.source
                      if decision.chosen else None, "stage": decision.stage, "reason": decision.reason,
                      "rule": decision.rule_id, "version": decision.rule_version}, ensure_ascii=False, indent=2))


@app.command()
def replay(
    source: Annotated[str, typer.Option(help="Source instance whose raw events to re-run.")],
    since: Annotated[datetime, typer.Option(help="Received at or after (ISO 8601).")],
    until: Annotated[datetime | None, typer.Option(help="Received before (ISO 8601).")] = None,
) -> None:
    """Re-run stored raw events through the current rules. Idempotent: what is unchanged writes nothing."""
    settings = settings_or_exit()

    async def run() -> dict[str, int]:
        from sqlalchemy import select

        from hub.bootstrap import build_hub
        from hub.semantics import semantics
        from hub.services import pipeline
        from hub.storage.models import RawEvent

        hub = await build_hub(settings, run_jobs=False)
        counts: dict[str, int] = {}
        try:
            stmt = select(RawEvent.id).where(RawEvent.source == source, RawEvent.received_at >= _utc(since),
                                             RawEvent.status != "refused")  # fmt: skip
            if until is not None:
                stmt = stmt.where(RawEvent.received_at < _utc(until))
            async with hub.sessionmaker() as session:
                ids = list((await session.execute(stmt.order_by(RawEvent.id))).scalars())
            for raw_id in ids:
                async with hub.sessionmaker() as session, session.begin():
                    outcome = await pipeline.process(session, semantics(), raw_id, replay=True,
                                                     guarded_buckets=settings.guarded_buckets,
                                                     default_location=settings.default_location)  # fmt: skip
                key = "changed" if outcome.observations or outcome.decisions or outcome.views else "unchanged"
                counts[key] = counts.get(key, 0) + 1
            return counts
        finally:
            await hub.close()

    counts = asyncio.run(run())
    console.print(f"replayed {sum(counts.values())} raw event(s) of {source}: {counts}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        console.print(f"[red]error:[/red] cannot read {path}: {exc}")
        raise typer.Exit(2) from None


def _plain(obj: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    return asdict(obj) if is_dataclass(obj) and not isinstance(obj, type) else obj


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


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
