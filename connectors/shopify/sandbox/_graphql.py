"""The GraphQL mutations the sandbox serves: ``inventorySetQuantities`` and ``inventoryAdjustQuantities``
(API versions up to 2025-10: ``compareQuantity``/``ignoreCompareQuantity``), with ``@idempotent(key:)``."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from graphql import DocumentNode, FieldNode, GraphQLError, OperationDefinitionNode, parse
from graphql.utilities import value_from_ast_untyped

from ._store import Shop, shop_time

REASONS = {"correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
           "movement_received", "movement_canceled", "other", "promotion", "quality_control", "received",
           "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock",
           "shrinkage"}
MUTATION_COST = 10


class GraphQLFailure(Exception):
    """A top-level GraphQL error (answered as ``{"errors": [...]}``, HTTP 200)."""


def _gid(value: Any, kind: str) -> int:
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix) or not value[len(prefix):].isdigit():
        raise GraphQLFailure(f"Invalid global id '{value}' for {kind}")
    return int(value[len(prefix):])


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> DocumentNode:
    """A document parsed once: apps send the same mutation text with other variables, and parsing is most
    of what answering one costs (graphql-core's parser is pure Python)."""
    return parse(query)


def parse_mutation(query: str, variables: dict[str, Any] | None) -> tuple[str, dict[str, Any], str | None]:
    """``(field name, input, idempotency key)`` of a single-field mutation document."""
    try:
        document = _parsed(query)
    except GraphQLError as exc:
        raise GraphQLFailure(f"Parse error: {exc.message}") from None
    op = document.definitions[0]
    if not isinstance(op, OperationDefinitionNode) or op.operation.value != "mutation":
        raise GraphQLFailure("the sandbox serves mutations only (use REST to read)")
    node = op.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    args = {a.name.value: value_from_ast_untyped(a.value, variables or {}) for a in node.arguments}
    key = None
    for directive in node.directives or ():
        if directive.name.value == "idempotent":
            values = {a.name.value: value_from_ast_untyped(a.value, variables or {}) for a in directive.arguments}
            key = values.get("key")
    if not isinstance(args.get("input"), dict):
        raise GraphQLFailure(f"Field '{node.name.value}' is missing required argument 'input'")
    return node.name.value, args["input"], key


def _user_error(code: str, field: list[str], message: str) -> dict[str, Any]:
    return {"inventoryAdjustmentGroup": None, "userErrors": [{"code": code, "field": field, "message": message}]}


def _group(reason: str, uri: str | None, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"inventoryAdjustmentGroup": {"createdAt": datetime.fromisoformat(shop_time()).isoformat(),
                                         "reason": reason, "referenceDocumentUri": uri, "changes": changes},
            "userErrors": []}


def set_quantities(shop: Shop, data: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Apply ``inventorySetQuantities``; returns the payload and the touched inventory item ids."""
    if data.get("name") not in ("available", "on_hand"):
        return _user_error("INVALID_NAME", ["input", "name"], "The quantity name must be available or on_hand."), []
    if data.get("reason") not in REASONS:
        return _user_error("INVALID_REASON", ["input", "reason"], "The specified reason is invalid."), []
    ignore = bool(data.get("ignoreCompareQuantity"))
    planned = []
    for n, line in enumerate(data.get("quantities") or []):
        item_id = _gid(line.get("inventoryItemId"), "InventoryItem")
        loc_id = _gid(line.get("locationId"), "Location")
        try:
            level = shop.level(item_id, loc_id)
        except KeyError as exc:
            return _user_error("INVALID_INVENTORY_ITEM", ["input", "quantities", str(n)], str(exc)), []
        current = level.available if data["name"] == "available" else level.on_hand
        if not ignore and line.get("compareQuantity") != current:
            return _user_error("COMPARE_QUANTITY_STALE", ["input", "quantities", str(n), "compareQuantity"],
                               "The compareQuantity argument no longer matches the persisted quantity."), []
        target = int(line["quantity"])
        planned.append((item_id, loc_id, target - current))
    changes = []
    for item_id, loc_id, delta in planned:
        shop.set_available(item_id, loc_id, shop.level(item_id, loc_id).available + delta)
        level = shop.level(item_id, loc_id)
        changes += [{"name": "available", "delta": delta, "quantityAfterChange": level.available},
                    {"name": "on_hand", "delta": delta, "quantityAfterChange": level.on_hand}]
    return _group(data["reason"], data.get("referenceDocumentUri"), changes), [p[0] for p in planned]


def adjust_quantities(shop: Shop, data: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Apply ``inventoryAdjustQuantities`` (name ``available`` only in the sandbox)."""
    if data.get("name") != "available":
        return _user_error("INVALID_NAME", ["input", "name"], "The sandbox adjusts 'available' only."), []
    if data.get("reason") not in REASONS:
        return _user_error("INVALID_REASON", ["input", "reason"], "The specified reason is invalid."), []
    changes, touched = [], []
    for n, change in enumerate(data.get("changes") or []):
        item_id = _gid(change.get("inventoryItemId"), "InventoryItem")
        loc_id = _gid(change.get("locationId"), "Location")
        try:
            level = shop.level(item_id, loc_id)
        except KeyError as exc:
            return _user_error("INVALID_INVENTORY_ITEM", ["input", "changes", str(n)], str(exc)), []
        shop.set_available(item_id, loc_id, level.available + int(change["delta"]))
        changes += [{"name": "available", "delta": int(change["delta"]), "quantityAfterChange": level.available},
                    {"name": "on_hand", "delta": int(change["delta"]), "quantityAfterChange": level.on_hand}]
        touched.append(item_id)
    return _group(data["reason"], data.get("referenceDocumentUri"), changes), touched
