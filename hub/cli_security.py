"""CLI for security and outbound webhooks: users, tokens, secrets (key rotation), subscriptions, deliveries.

The lead's ``hub/cli.py`` mounts these with :func:`mount` (``zhongshu users …``, ``zhongshu tokens …``,
``zhongshu secrets …``, ``zhongshu subscriptions …``, ``zhongshu deliveries …``). Commands talk to the
database directly (like ``zhongshu db``), not to a running API; delivery jobs they enqueue are picked up by
the running hub's job runner.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from hub.domain.errors import HubError
from hub.security.roles import Principal, Role
from hub.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
out = Console()
err = Console(stderr=True)

users_app = typer.Typer(help="Console users and roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for integrations.", no_args_is_help=True)
secrets_app = typer.Typer(help="Encryption of stored secrets.", no_args_is_help=True)
subscriptions_app = typer.Typer(help="Outbound webhook subscriptions.", no_args_is_help=True)
deliveries_app = typer.Typer(help="Outbound webhook deliveries: dead letters and replay.", no_args_is_help=True)


def mount(app: typer.Typer) -> None:
    """Add every group of this module to the main ``zhongshu`` app."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(secrets_app, name="secrets")
    app.add_typer(subscriptions_app, name="subscriptions")
    app.add_typer(deliveries_app, name="deliveries")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def cli_principal() -> Principal:
    return Principal(id="cli", name=f"cli:{getpass.getuser()}", role=Role.admin, kind="user")


class _NoQueue:
    async def kick(self, job_ids: Sequence[int], *, delay: float | None = None) -> None:
        """The running hub's runner polls the jobs table; nothing to deliver from the CLI."""


def _run(fn: Callable[[Any, Settings], Awaitable[T]]) -> T:
    """Run ``fn(uow, settings)`` in one committed unit of work; domain errors become one red line, exit 1."""
    from hub.services.uow import UnitOfWork
    from hub.storage.engine import make_engine, make_sessionmaker

    settings = _settings()

    async def main() -> T:
        engine = make_engine(settings)
        try:
            async with UnitOfWork(make_sessionmaker(engine), _NoQueue()) as uow:
                result = await fn(uow, settings)
                await uow.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except HubError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None


def _print(value: Any) -> None:
    out.print_json(json.dumps(value, default=str, ensure_ascii=False))


# ---------------------------------------------------------------- users


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="viewer, operator or admin")] = Role.viewer,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
) -> None:
    """Create a console user."""
    password = password or typer.prompt("password", hide_input=True, confirmation_prompt=True)

    async def go(uow: Any, _: Settings) -> Any:
        from hub.security.audit import audit
        from hub.security.users import create_user, user_dict

        row = await create_user(uow.session, username, password, role)
        await audit(uow.session, cli_principal(), "user.create", f"user:{row.id}", None, user_dict(row))
        return user_dict(row)

    _print(_run(go))


@users_app.command("list")
def users_list() -> None:
    async def go(uow: Any, _: Settings) -> Any:
        from sqlalchemy import select

        from hub.security.users import user_dict
        from hub.storage.models_security import User

        return [user_dict(u) for u in (await uow.session.execute(select(User).order_by(User.id))).scalars()]

    _print(_run(go))


@users_app.command("update")
def users_update(
    username: str,
    role: Annotated[Role | None, typer.Option()] = None,
    password: Annotated[bool, typer.Option("--password", help="Prompt for a new password.")] = False,
    disable: Annotated[bool | None, typer.Option("--disable/--enable")] = None,
) -> None:
    """Change a user's role, password or disabled flag (their console sessions end)."""
    new_password = typer.prompt("new password", hide_input=True, confirmation_prompt=True) if password else None

    async def go(uow: Any, _: Settings) -> Any:
        from hub.security.audit import audit
        from hub.security.sessions import end_user_sessions
        from hub.security.users import update_user, user_by_name, user_dict

        row = await user_by_name(uow.session, username)
        before = user_dict(row)
        await update_user(uow.session, row, role=role, password=new_password, disabled=disable)
        await end_user_sessions(uow.session, row.id)
        await audit(
            uow.session,
            cli_principal(),
            "user.update",
            f"user:{row.id}",
            before,
            user_dict(row),
            detail="password changed" if new_password else "",
        )
        return user_dict(row)

    _print(_run(go))


@users_app.command("ensure-admin")
def users_ensure_admin() -> None:
    """Create the bootstrap admin if none exists; print a generated password once."""

    async def go(uow: Any, settings: Settings) -> str | None:
        from hub.security.users import ensure_admin

        return await ensure_admin(uow.session, settings)

    password = _run(go)
    if password:
        err.print(
            f"created user [bold]admin[/bold] with password [bold]{password}[/bold] (also in the var directory)"
        )
    else:
        err.print("an admin exists (or ZHONGSHU_ADMIN_PASSWORD was used); nothing generated")


# ---------------------------------------------------------------- tokens


@tokens_app.command("create")
def tokens_create(
    name: str,
    role: Annotated[Role, typer.Option(help="viewer, operator or admin")] = Role.viewer,
    expires_days: Annotated[float | None, typer.Option(help="Days until it expires; 0 for never.")] = 90,
) -> None:
    """Create an API token and print it: the only time it is shown."""

    async def go(uow: Any, _: Settings) -> Any:
        from hub.security.audit import audit
        from hub.security.tokens import issue_token

        expires = timedelta(days=expires_days) if expires_days else None
        issued = await issue_token(uow.session, name, role, expires_in=expires, created_by="cli")
        await audit(uow.session, cli_principal(), "token.create", f"token:{issued.id}", None, issued.info)
        return issued

    issued = _run(go)
    _print(issued.info)
    err.print("token (shown once, store it now):")
    print(issued.token)


@tokens_app.command("list")
def tokens_list() -> None:
    async def go(uow: Any, _: Settings) -> Any:
        from hub.security.tokens import list_tokens

        return await list_tokens(uow.session)

    _print(_run(go))


@tokens_app.command("revoke")
def tokens_revoke(token_id: int) -> None:
    async def go(uow: Any, _: Settings) -> Any:
        from hub.security.audit import audit
        from hub.security.tokens import revoke_token

        info = await revoke_token(uow.session, token_id)
        await audit(uow.session, cli_principal(), "token.revoke", f"token:{token_id}", None, info)
        return info

    _print(_run(go))


# ---------------------------------------------------------------- secrets


@secrets_app.command("generate-key")
def secrets_generate_key() -> None:
    """Print a new key for ZHONGSHU_SECRET_KEY."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())


async def reseal_all(uow: Any, settings: Settings) -> dict[str, int]:
    """Re-encrypt every stored secret under the current key; returns how many of each kind changed."""
    from sqlalchemy import select

    from hub.security.secrets import reseal
    from hub.storage.models import Source
    from hub.storage.models_outbound import WebhookSubscription

    counts = {"source_credentials": 0, "subscription_secrets": 0}
    for src in (
        await uow.session.execute(select(Source).where(Source.credentials.is_not(None)).with_for_update())
    ).scalars():
        new = reseal(settings, src.credentials)
        if new is not None:
            src.credentials, counts["source_credentials"] = new, counts["source_credentials"] + 1
    for sub in (await uow.session.execute(select(WebhookSubscription).with_for_update())).scalars():
        new = reseal(settings, sub.secrets)
        if new is not None:
            sub.secrets, counts["subscription_secrets"] = new, counts["subscription_secrets"] + 1
    return counts


@secrets_app.command("rotate-key")
def secrets_rotate_key() -> None:
    """Re-encrypt every stored secret under the current key.

    Production: set the new ZHONGSHU_SECRET_KEY, put the old one in ZHONGSHU_SECRET_KEYS_PREVIOUS, run this,
    then drop the old key. Embedded (no ZHONGSHU_SECRET_KEY): a new var/secret.key is generated first and the
    old one kept in var/secret.key.previous.
    """
    settings = _settings()
    if settings.secret_key is None:
        from hub.security.secrets import new_embedded_key

        err.print(f"generated a new embedded key {new_embedded_key(settings)}")

    async def go(uow: Any, s: Settings) -> Any:
        from hub.security.audit import audit
        from hub.security.secrets import keyring

        counts = await reseal_all(uow, s)
        await audit(
            uow.session,
            cli_principal(),
            "secrets.rotate_key",
            "secrets",
            None,
            {**counts, "key_id": keyring(s).current_id},
        )
        return {**counts, "key_id": keyring(s).current_id}

    _print(_run(go))


# ---------------------------------------------------------------- subscriptions


@subscriptions_app.command("create")
def subscriptions_create(
    url: str,
    event: Annotated[list[str], typer.Option("--event", "-e", help="Event type; repeat. '*' for all.")],
    sku: Annotated[list[str] | None, typer.Option("--sku", help="Only these skus; repeat.")] = None,
    shop: Annotated[list[str] | None, typer.Option("--shop", help="Only these shops; repeat.")] = None,
    description: str = "",
) -> None:
    """Subscribe a URL; prints the whsec_ signing secret once."""

    async def go(uow: Any, settings: Settings) -> Any:
        from hub.outbound import subscriptions as subs
        from hub.security.audit import audit

        row, secret = await subs.create(
            uow.session,
            settings,
            url=url,
            event_types=event,
            skus=sku or [],
            shops=shop or [],
            description=description,
            created_by="cli",
        )
        info = subs.subscription_dict(row, settings)
        await audit(uow.session, cli_principal(), "subscription.create", f"subscription:{row.id}", None, info)
        return info, secret

    info, secret = _run(go)
    _print(info)
    err.print("signing secret (shown once):")
    print(secret)


@subscriptions_app.command("list")
def subscriptions_list() -> None:
    async def go(uow: Any, settings: Settings) -> Any:
        from hub.outbound import subscriptions as subs

        return [subs.subscription_dict(r, settings) for r in await subs.list_all(uow.session)]

    _print(_run(go))


@subscriptions_app.command("rotate-secret")
def subscriptions_rotate(
    subscription_id: int,
    overlap_hours: Annotated[float | None, typer.Option(help="How long the old secret keeps signing.")] = None,
) -> None:
    """New signing secret (printed once); the old one signs too until the overlap ends."""

    async def go(uow: Any, settings: Settings) -> Any:
        from hub.outbound import subscriptions as subs
        from hub.security.audit import audit

        row = await subs.get(uow.session, subscription_id, lock=True)
        secret = await subs.rotate_secret(
            uow.session, settings, row, overlap_seconds=overlap_hours * 3600 if overlap_hours is not None else None
        )
        await audit(uow.session, cli_principal(), "subscription.rotate_secret", f"subscription:{row.id}")
        return secret

    err.print("new signing secret (shown once):")
    print(_run(go))


def _set_enabled(subscription_id: int, enabled: bool) -> None:
    async def go(uow: Any, settings: Settings) -> Any:
        from hub.outbound import subscriptions as subs
        from hub.security.audit import audit

        row = await subs.get(uow.session, subscription_id, lock=True)
        before = subs.subscription_dict(row)
        await subs.update(uow.session, settings, row, enabled=enabled)
        after = subs.subscription_dict(row)
        await audit(uow.session, cli_principal(), "subscription.update", f"subscription:{row.id}", before, after)
        return after

    _print(_run(go))


@subscriptions_app.command("enable")
def subscriptions_enable(subscription_id: int) -> None:
    _set_enabled(subscription_id, True)


@subscriptions_app.command("disable")
def subscriptions_disable(subscription_id: int) -> None:
    _set_enabled(subscription_id, False)


# ---------------------------------------------------------------- deliveries


@deliveries_app.command("list")
def deliveries_list(
    state: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = "dead",
    limit: int = 50,
) -> None:
    async def go(uow: Any, _: Settings) -> Any:
        from sqlalchemy import select

        from hub.outbound.replay import delivery_dict
        from hub.storage.models_outbound import WebhookDelivery

        stmt = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
        if state:
            stmt = stmt.where(WebhookDelivery.state == state)
        return [delivery_dict(d) for d in (await uow.session.execute(stmt)).scalars()]

    _print(_run(go))


@deliveries_app.command("replay")
def deliveries_replay(
    delivery_id: Annotated[int | None, typer.Argument(help="One delivery; or use --from/--to.")] = None,
    start: Annotated[datetime | None, typer.Option("--from", help="Range start (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="Range end (UTC).")] = None,
    subscription: Annotated[int | None, typer.Option(help="Only this subscription.")] = None,
) -> None:
    """Send a delivery again (same webhook-id), or every dead letter created in [--from, --to)."""

    if (delivery_id is None) == (start is None or end is None):
        err.print("[red]error:[/red] give a delivery id, or both --from and --to")
        raise typer.Exit(2)

    async def go(uow: Any, _: Settings) -> Any:
        from hub.outbound import replay
        from hub.security.audit import audit

        if delivery_id is not None:
            d = await replay.replay_one(uow, delivery_id)
            await audit(uow.session, cli_principal(), "delivery.replay", f"delivery:{delivery_id}")
            return replay.delivery_dict(d)
        assert start is not None and end is not None
        ids = await replay.replay_range(
            uow,
            start.replace(tzinfo=start.tzinfo or UTC),
            end.replace(tzinfo=end.tzinfo or UTC),
            subscription_id=subscription,
        )
        await audit(
            uow.session,
            cli_principal(),
            "delivery.replay_range",
            "deliveries",
            None,
            {"from": start.isoformat(), "to": end.isoformat(), "replayed": len(ids)},
        )
        return {"replayed": ids}

    _print(_run(go))
