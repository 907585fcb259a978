"""ERP targets: the ``sources`` rows with platform kingdee|yonyou, their connectors and account maps.

Source settings the voucher engine reads (beyond the connector's own, e.g. ``books``/``accbooks``):

* ``entities``: legal entities this ERP keeps books for (default: the keys of ``books`` /
  ``accbooks``; neither given → every entity);
* ``account_map``: logical account → ERP code, overriding the templates' map for this tenant.

Credentials: ``hub.security.decrypt(settings, blob)`` when the security module provides it, else
the blob as plain JSON, else ``settings["credentials"]`` (development only).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import AuthError, Connector, InstanceConfig
from connectors.registry import load as load_connector
from connectors.vouchers import TemplateSet
from hub.storage.models import Source

ERP_PLATFORMS = ("kingdee", "yonyou")
_ENGINE_KEYS = ("entities", "account_map", "credentials")


@dataclass(frozen=True)
class ErpTarget:
    name: str
    platform: str
    entities: frozenset[str] | None  # None: every entity

    def keeps(self, entity: str) -> bool:
        return self.entities is None or entity in self.entities


def target_of(source: Source) -> ErpTarget:
    settings = source.settings or {}
    entities = settings.get("entities")
    if entities is None:
        books = settings.get("books") or settings.get("accbooks")
        entities = list(books) if isinstance(books, Mapping) and books else None
    return ErpTarget(source.name, source.platform, frozenset(map(str, entities)) if entities is not None else None)


async def erp_targets(session: AsyncSession) -> list[ErpTarget]:
    rows = (
        (
            await session.execute(
                select(Source).where(Source.platform.in_(ERP_PLATFORMS), Source.enabled.is_(True)).order_by(Source.name)
            )
        )
        .scalars()
        .all()
    )
    return [target_of(s) for s in rows]


def account_map(templates: TemplateSet, source: Source) -> dict[str, str]:
    """The templates' map for the platform, overridden by the source's own ``account_map``."""
    base = dict(templates.account_maps.get(source.platform, {}))
    base.update({str(k): str(v) for k, v in ((source.settings or {}).get("account_map") or {}).items()})
    return base


def credentials(settings: Any, source: Source) -> dict[str, str]:
    blob = source.credentials
    if blob:
        value: Any = bytes(blob)
        try:
            secrets = importlib.import_module("hub.security.secrets")
        except ImportError:
            secrets = None
        if secrets is not None and secrets.blob_key_id(value) is not None:
            value = secrets.decrypt(settings, value)  # SecretError names a missing key
        try:
            parsed = json.loads(value)
        except ValueError:
            raise AuthError("stored credentials are not readable JSON", instance=source.name) from None
        return {str(k): str(v) for k, v in dict(parsed).items()}
    return {str(k): str(v) for k, v in ((source.settings or {}).get("credentials") or {}).items()}


def connector_for(settings: Any, source: Source) -> Connector:
    """A fresh connector for ``source`` (the caller closes it: ``async with``)."""
    config = InstanceConfig(
        name=source.name, platform=source.platform, base_url=source.base_url,
        credentials=credentials(settings, source),
        settings={k: v for k, v in (source.settings or {}).items() if k not in _ENGINE_KEYS},
    )  # fmt: skip
    return load_connector(source.platform)(config)
