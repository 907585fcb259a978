"""One configured connector instance: a shop of a platform with its credentials and listings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import AuthError

__all__ = ["InstanceConfig"]


@dataclass(frozen=True)
class InstanceConfig:
    """Everything a connector needs to talk to one shop. The hub stores it (credentials encrypted).

    ::

        InstanceConfig(
            name="shopify-demo", platform="shopify", base_url="https://demo.myshopify.com",
            credentials={"app_key": "k", "app_secret": "s", "access_token": "shpat_..."},
            settings={"rate_limit_per_second": 2, "rate_limit_burst": 40, "location_id": 655441491},
            listings={"SKU-A": {"inventory_item_id": 808950810, "location_id": 655441491}},
        )

    ``credentials`` is kept out of ``repr`` so it never lands in logs.
    """

    name: str
    platform: str
    base_url: str
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    settings: Mapping[str, Any] = field(default_factory=dict)
    listings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def credential(self, key: str) -> str:
        """The credential ``key``, or an ``AuthError`` naming what is missing."""
        value = self.credentials.get(key)
        if not value:
            raise AuthError(f"credential {key!r} is not configured", instance=self.name)
        return value

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)
