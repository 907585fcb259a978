"""SKU <-> Shopify ids (inventory item, location, variant) for one shop, from ``InstanceConfig.listings``.

::

    listings:
      SKU-A: {inventory_item_id: 808950810, variant_id: 39072856, location_id: 655441491}
    settings:
      location_id: 655441491          # used when a listing names no location
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import InstanceConfig, NotFound

__all__ = ["Listing", "listing_for", "sku_for_item"]


@dataclass(frozen=True, slots=True)
class Listing:
    sku: str
    inventory_item_id: int
    location_id: int

    @property
    def item_gid(self) -> str:
        return f"gid://shopify/InventoryItem/{self.inventory_item_id}"

    @property
    def location_gid(self) -> str:
        return f"gid://shopify/Location/{self.location_id}"


def listing_for(config: InstanceConfig, sku: str) -> Listing:
    entry = config.listings.get(sku)
    if not entry or "inventory_item_id" not in entry:
        raise NotFound(f"SKU {sku!r} has no Shopify listing (inventory_item_id)", instance=config.name)
    location = entry.get("location_id", config.settings.get("location_id"))
    if location is None:
        raise NotFound(f"SKU {sku!r} has no location_id (listing or settings)", instance=config.name)
    return Listing(sku, int(entry["inventory_item_id"]), int(location))


def sku_for_item(config: InstanceConfig, inventory_item_id: int) -> str | None:
    for sku, entry in config.listings.items():
        if int(entry.get("inventory_item_id", -1)) == inventory_item_id:
            return sku
    return None
