"""The sandbox WMS's own stock: per warehouse / item / inventoryType, in batches with expiry.

Pure state, no I/O. Outbound orders lock units first-expiry-first-out when they are created and
consume the locks when they ship, the way a WMS allocates at order release and deducts at
dispatch; ``quantity`` counts every unit on the shelf and ``lock_quantity`` those allocated to an
open outbound order, matching inventory.query's ``quantity`` / ``lockQuantity``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INVENTORY_TYPES = ("ZP", "CC", "JS", "XS", "ZT", "DJ")
FAR_FUTURE = "9999-12-31"


@dataclass
class Batch:
    batch_code: str
    product_date: str = ""
    expire_date: str = ""
    quantity: int = 0
    locked: int = 0

    @property
    def free(self) -> int:
        return self.quantity - self.locked


@dataclass(frozen=True)
class Allocation:
    """Units of one batch locked for one order line."""

    warehouse_code: str
    item_code: str
    inventory_type: str
    batch_code: str
    quantity: int


@dataclass
class StockBook:
    cells: dict[tuple[str, str, str], list[Batch]] = field(default_factory=dict)

    def _batches(self, warehouse: str, item: str, inventory_type: str) -> list[Batch]:
        return self.cells.setdefault((warehouse, item, inventory_type), [])

    def _batch(self, warehouse: str, item: str, inventory_type: str, batch_code: str) -> Batch | None:
        for batch in self.cells.get((warehouse, item, inventory_type), []):
            if batch.batch_code == batch_code:
                return batch
        return None

    def add(
        self,
        warehouse: str,
        item: str,
        quantity: int,
        *,
        inventory_type: str = "ZP",
        batch_code: str = "",
        product_date: str = "",
        expire_date: str = "",
    ) -> Batch:
        """Put units on the shelf (negative ``quantity`` removes free units, never below locks)."""
        batch = self._batch(warehouse, item, inventory_type, batch_code)
        if batch is None:
            batch = Batch(batch_code, product_date, expire_date)
            self._batches(warehouse, item, inventory_type).append(batch)
        if quantity < 0 and -quantity > batch.free:
            raise ValueError(
                f"cannot remove {-quantity} of {item} batch {batch_code or '-'} at {warehouse}: only {batch.free} free"
            )
        batch.quantity += quantity
        batch.product_date = batch.product_date or product_date
        batch.expire_date = batch.expire_date or expire_date
        return batch

    def set_count(self, warehouse: str, item: str, counted: int, *, inventory_type: str = "ZP",
                  batch_code: str = "") -> int:
        """A stock count found ``counted`` units of the batch; return the signed difference."""
        batch = self._batch(warehouse, item, inventory_type, batch_code)
        current = batch.quantity if batch else 0
        delta = counted - current
        if delta:
            self.add(warehouse, item, delta, inventory_type=inventory_type, batch_code=batch_code)
        return delta

    def allocate(
        self, warehouse: str, item: str, quantity: int, *, inventory_type: str = "ZP", batch_code: str = ""
    ) -> list[Allocation]:
        """Lock up to ``quantity`` free units first-expiry-first-out (a named batch only, if given)."""
        batches = sorted(
            self.cells.get((warehouse, item, inventory_type), []),
            key=lambda b: (b.expire_date or FAR_FUTURE, b.batch_code),
        )
        allocations: list[Allocation] = []
        remaining = quantity
        for batch in batches:
            if remaining <= 0:
                break
            if batch_code and batch.batch_code != batch_code:
                continue
            take = min(batch.free, remaining)
            if take > 0:
                batch.locked += take
                remaining -= take
                allocations.append(Allocation(warehouse, item, inventory_type, batch.batch_code, take))
        return allocations

    def release(self, allocations: list[Allocation]) -> None:
        for allocation in allocations:
            batch = self._batch(allocation.warehouse_code, allocation.item_code, allocation.inventory_type,
                                allocation.batch_code)
            if batch is not None:
                batch.locked -= min(batch.locked, allocation.quantity)

    def ship(self, allocations: list[Allocation], quantity: int) -> list[tuple[Batch, int]]:
        """Deduct up to ``quantity`` units from the locked allocations (in order); free the rest."""
        shipped: list[tuple[Batch, int]] = []
        remaining = quantity
        for allocation in allocations:
            batch = self._batch(allocation.warehouse_code, allocation.item_code, allocation.inventory_type,
                                allocation.batch_code)
            if batch is None:
                continue
            take = min(allocation.quantity, max(remaining, 0))
            batch.locked -= min(batch.locked, allocation.quantity)
            batch.quantity -= take
            remaining -= take
            if take:
                shipped.append((batch, take))
        return shipped

    def rows(self, warehouse: str = "", item: str = "", inventory_type: str = "") -> list[dict[str, object]]:
        """One row per batch, filtered; the shape of inventory.query's ``items``."""
        out: list[dict[str, object]] = []
        for (wh, code, inv), batches in sorted(self.cells.items()):
            if (warehouse and wh != warehouse) or (item and code != item) or (inventory_type and inv != inventory_type):
                continue
            for batch in batches:
                if batch.quantity == 0 and batch.locked == 0:
                    continue
                row: dict[str, object] = {
                    "warehouseCode": wh,
                    "itemCode": code,
                    "inventoryType": inv,
                    "quantity": batch.quantity,
                    "lockQuantity": batch.locked,
                }
                if batch.batch_code:
                    row.update(batchCode=batch.batch_code, productDate=batch.product_date,
                               expireDate=batch.expire_date)
                out.append(row)
        return out

    def total(self, warehouse: str, item: str, inventory_type: str = "ZP") -> int:
        return sum(b.quantity for b in self.cells.get((warehouse, item, inventory_type), []))
