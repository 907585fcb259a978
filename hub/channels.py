"""Connector instances: a source row (platform, base URL, encrypted credentials, settings, listings) becomes
a live connector from the registry. Instances are cached per process and rebuilt when the row changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import registry
from connectors.base import Connector, InstanceConfig
from hub.domain.errors import InvalidRequest, NotFound
from hub.settings import Settings
from hub.storage.models import Source
from hub.storage.sql import core

_CACHE: dict[tuple[int, str], tuple[tuple[Any, ...], Connector]] = {}
"""Per event loop: a connector's HTTP client and rate limiter belong to the loop that made them."""


def instance_config(settings: Settings, source: Source) -> InstanceConfig:
    credentials: dict[str, str] = {}
    if source.credentials:
        from hub.security import decrypt

        credentials = {k: str(v) for k, v in json.loads(decrypt(settings, source.credentials)).items()}
    return InstanceConfig(name=source.name, platform=source.platform, base_url=source.base_url,
                          credentials=credentials, settings=dict(source.settings or {}),
                          listings=dict(source.listings or {}))  # fmt: skip


async def connector_for(session: AsyncSession, settings: Settings, name: str) -> Connector:
    """The live connector of source ``name`` (NotFound when there is no such source or it is disabled)."""
    source, connector = await live_source(session, settings, name)
    if source is None or connector is None or not source.enabled:
        raise NotFound(f"no enabled source instance {name!r}")
    return connector


_ROWS: dict[str, tuple[str, Source]] = {}
_LIVE: dict[tuple[int, str], tuple[str, Connector]] = {}  # per event loop, like the connectors


async def cached_source(session: AsyncSession, name: str) -> Source | None:
    """The source row, cached per process while it is unchanged; detached: read it, never change it.

    On PostgreSQL the database hashes the row (``md5(sources::text)``), so an unchanged source costs one
    small query instead of shipping and decoding thousands of listings on every webhook, event and push."""
    return (await _row(session, name))[1]


async def _row(session: AsyncSession, name: str) -> tuple[str, Source | None]:
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return "", await session.get(Source, name)
    digest = await session.scalar(text("SELECT md5(sources::text) FROM sources WHERE name = :n"), {"n": name})
    if digest is None:
        return "", None
    cached = _ROWS.get(name)
    if cached is not None and cached[0] == digest:
        return digest, cached[1]
    row = (await session.execute(select(Source.__table__).where(Source.__table__.c.name == name))).first()
    if row is None:
        return "", None
    src = Source(**row._mapping)  # a copy the session does not track: the caller's own Source object stays its own
    _ROWS[name] = (digest, src)
    return digest, src


_DIGESTS = text("SELECT name, md5(sources::text) FROM sources WHERE enabled ORDER BY name")


async def enabled_sources(session: AsyncSession) -> list[Source]:
    """Every enabled source row (cached like :func:`cached_source`: one small query while none changed)."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return list((await session.execute(select(Source).where(Source.enabled.is_(True)).order_by(Source.name))).scalars())
    out = []
    conn = await core(session)  # flushed first: a listing just added in this transaction counts
    for name, digest in (await conn.execute(_DIGESTS)).all():
        cached = _ROWS.get(name)
        if cached is None or cached[0] != digest:
            digest, src = await _row(session, name)
            if src is None:
                continue
        else:
            src = cached[1]
        out.append(src)
    return out


async def live_source(session: AsyncSession, settings: Settings, name: str) -> tuple[Source | None, Connector | None]:
    """:func:`cached_source` and its connector (``InvalidRequest`` for a bad connector configuration)."""
    digest, src = await _row(session, name)
    if src is None:
        return None, None
    if not digest:
        return src, connector_of(settings, src)
    key = (id(asyncio.get_running_loop()), name)
    cached = _LIVE.get(key)
    if cached is not None and cached[0] == digest:
        return src, cached[1]
    connector = connector_of(settings, src)
    _LIVE[key] = (digest, connector)
    return src, connector


def connector_of(settings: Settings, source: Source) -> Connector:
    fingerprint = (source.platform, source.base_url, source.credentials, json.dumps(source.settings, sort_keys=True),
                   json.dumps(source.listings, sort_keys=True))  # fmt: skip
    key = (id(asyncio.get_running_loop()), source.name)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    try:
        cls = registry.load(source.platform)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is a configuration error, named as such
        raise InvalidRequest(f"source {source.name!r}: connector {source.platform!r} unavailable: {exc}") from None
    connector = cls(instance_config(settings, source))
    _CACHE[key] = (fingerprint, connector)
    return connector
