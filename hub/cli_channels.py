"""``zhongshu channels``: connector instances (a shop, a warehouse, an ERP) from the command line — the same
rows the API's ``/api/v1/sources`` manages, with credentials encrypted at rest."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

channels_app = typer.Typer(help="Connector instances: shops, warehouses, ERPs.", no_args_is_help=True)
console = Console(stderr=True)


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            console.print(f"[red]error:[/red] {what} {item!r} must be KEY=VALUE")
            raise typer.Exit(2)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


async def _with_session(fn: Any) -> Any:
    from hub.cli import settings_or_exit
    from hub.storage.engine import make_engine, make_sessionmaker

    settings = settings_or_exit()
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await fn(session, settings)
    finally:
        await engine.dispose()


@channels_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Instance name, e.g. taobao_flagship (the part before _ is its kind).")],
    platform: Annotated[str, typer.Option(help="Connector: shopify, taobao, jd, douyin, meituan, qimen, …")],
    base_url: Annotated[str, typer.Option(help="The platform's (or its sandbox's) base URL.")] = "",
    location: Annotated[str, typer.Option(help="Warehouse its orders reserve at.")] = "",
    trust: Annotated[int | None, typer.Option(min=0, max=100, help="Trust score (default: the dictionary's).")] = None,
    credential: Annotated[list[str], typer.Option(help="KEY=VALUE, repeatable; stored encrypted.")] = [],  # noqa: B006
    setting: Annotated[list[str], typer.Option(help="KEY=VALUE (JSON values allowed), repeatable.")] = [],  # noqa: B006
    listing: Annotated[list[str], typer.Option(help='SKU={"inventory_item_id": 1, …}, repeatable.')] = [],  # noqa: B006
) -> None:
    """Register a connector instance (or update it when it exists)."""
    from connectors import registry
    from hub.security import encrypt
    from hub.storage.models import Source

    if platform not in registry.available():
        console.print(f"[red]error:[/red] unknown platform {platform!r}; installed: {', '.join(registry.available())}")
        raise typer.Exit(2)
    credentials, settings_, listings = _pairs(credential, "credential"), _pairs(setting, "setting"), _pairs(listing, "listing")

    async def run(session: Any, settings: Any) -> str:
        row = await session.get(Source, name)
        created = row is None
        if row is None:
            row = Source(name=name, platform=platform, settings={}, listings={})
            session.add(row)
        row.platform, row.base_url = platform, base_url or row.base_url
        row.default_location = location or row.default_location
        row.trust = trust if trust is not None else row.trust
        row.settings = {**(row.settings or {}), **settings_}
        row.listings = {**(row.listings or {}), **listings}
        if credentials:
            row.credentials = encrypt(settings, json.dumps({k: str(v) for k, v in credentials.items()}).encode())
        return "added" if created else "updated"

    outcome = asyncio.run(_with_session(run))
    console.print(f"{name}: {outcome} ({platform}); webhooks go to /webhooks/{name}")


@channels_app.command("list")
def list_channels() -> None:
    """Connector instances, with what each holds (never the credentials themselves)."""
    from sqlalchemy import select

    from hub.storage.models import Source

    async def run(session: Any, settings: Any) -> list[Any]:
        return list((await session.execute(select(Source).order_by(Source.name))).scalars())

    table = Table("name", "platform", "enabled", "base URL", "location", "trust", "credentials", "listings")
    for s in asyncio.run(_with_session(run)):
        table.add_row(s.name, s.platform, "yes" if s.enabled else "no", s.base_url or "—", s.default_location or "—",
                      str(s.trust) if s.trust is not None else "—", "stored" if s.credentials else "—",
                      str(len(s.listings or {})))  # fmt: skip
    Console().print(table)
