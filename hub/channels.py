"""Connector instances: a source row (platform, base URL, encrypted credentials, settings, listings) becomes
a live connector from the registry. Instances are cached per process and rebuilt when the row changes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import bindparam, literal_column, select, text
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

    On PostgreSQL every version of a row has its own ``(xmin, ctid)`` (a new one on every update, even two
    in one transaction), so an unchanged source costs one tiny query instead of shipping and decoding
    thousands of listings on every webhook, event and push."""
    return (await _row(session, name))[1]


_VERSION = "xmin::text || '/' || ctid::text"
_VERSION_OF = text(f"SELECT {_VERSION} FROM sources WHERE name = :n")
_VERSIONS = text(f"SELECT name, {_VERSION} FROM sources WHERE enabled ORDER BY name")
_ROW = select(Source.__table__, literal_column(_VERSION).label("row_version")).where(
    Source.__table__.c.name == bindparam("n"))  # fmt: skip


_TX = "zhongshu_sources_seen"


def _seen(session: AsyncSession) -> dict[str, Any]:
    """What this transaction already read of the sources: a row version does not change under a
    transaction's feet unless the transaction itself changes the row (then nothing is reused)."""
    tx = session.sync_session.get_transaction()
    seen = session.info.get(_TX)
    if seen is None or seen[0] is not tx or any(isinstance(o, Source) for o in (*session.new, *session.dirty)):
        seen = session.info[_TX] = (tx, {})
    return seen[1]  # type: ignore[no-any-return]


async def _row(session: AsyncSession, name: str) -> tuple[str, Source | None]:
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return "", await session.get(Source, name)
    seen = _seen(session)
    if name in seen:
        return seen[name]  # type: ignore[no-any-return]
    seen[name] = found = await _versioned_row(session, name)
    return found


async def _versioned_row(session: AsyncSession, name: str) -> tuple[str, Source | None]:
    conn = await core(session)  # flushed first: a change made in this transaction counts
    version = (await conn.execute(_VERSION_OF, {"n": name})).scalar()
    if version is None:
        return "", None
    cached = _ROWS.get(name)
    if cached is not None and cached[0] == version:
        return version, cached[1]
    return await _load(session, name)


async def _load(session: AsyncSession, name: str) -> tuple[str, Source | None]:
    row = (await (await core(session)).execute(_ROW, {"n": name})).first()
    if row is None:
        return "", None
    values = dict(row._mapping)
    version = values.pop("row_version")
    src = Source(**values)  # a copy the session does not track: the caller's own Source object stays its own
    _ROWS[name] = (version, src)
    return version, src


async def enabled_sources(session: AsyncSession) -> list[Source]:
    """Every enabled source row (cached like :func:`cached_source`: one small query while none changed)."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return list((await session.execute(select(Source).where(Source.enabled.is_(True)).order_by(Source.name))).scalars())
    seen = _seen(session)
    if "*enabled" in seen:
        return list(seen["*enabled"])
    out = []
    for name, version in (await (await core(session)).execute(_VERSIONS)).all():
        cached = _ROWS.get(name)
        src = cached[1] if cached is not None and cached[0] == version else (await _load(session, name))[1]
        if src is not None:
            out.append(src)
    seen["*enabled"] = out
    return list(out)


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


async def close_connectors() -> None:
    """Close the HTTP clients of the connectors this event loop made (a process shutting down)."""
    loop = id(asyncio.get_running_loop())
    connectors = {id(c): c for key, (_, c) in [*_CACHE.items(), *_LIVE.items()] if key[0] == loop}
    for key in [k for k in _CACHE if k[0] == loop]:
        del _CACHE[key]
    for key in [k for k in _LIVE if k[0] == loop]:
        del _LIVE[key]
    for connector in connectors.values():
        try:
            await connector.aclose()
        except Exception:  # noqa: BLE001 - closing is best effort on the way out
            pass
