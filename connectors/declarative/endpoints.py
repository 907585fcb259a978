"""Endpoints: one HTTP call described as data, and the three uses a channel makes of them.

Template context of every call: ``settings``, ``listing`` (of the SKU), ``sku``, ``skus`` (comma
list), ``quantity``, ``idempotency_key``, ``since``/``until`` (poll window), ``now``.

::

    endpoints:
      read_stock:                       # StockRead
        method: GET
        path: retail/get
        per_sku: true                   # one call per SKU (false: one call, "{skus}" lists them)
        params: {app_poi_code: "{settings.app_poi_code}", app_food_code: "{listing.app_food_code|sku}"}
        records: "$.data"
        match: "{listing.app_food_code|sku}"   # what the record's sku field holds for a SKU
        fields: {sku: "$.app_food_code", quantity: "$.skus[0].stock"}
      write_stock:                      # StockWrite
        method: POST
        path: retail/sku/stock
        form: {app_poi_code: "{settings.app_poi_code}", food_data: {json: [...]}}
    streams:
      orders:                           # Stream
        method: GET
        path: order/list
        params: {start_time: "{since}", end_time: "{until}"}
        time_format: epoch_s            # how since/until are written and updated_at is read
        overlap_seconds: 5
        pagination: {type: offset, offset_param: offset, limit_param: limit, page_size: 50}
        records: "$.data[*]"
        key: "$.order_id"
        updated_at: "$.utime"
        topics: [{topic: order.cancel, when: "$.status", equals: 9}, {topic: order.create}]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ._reader import Reader
from .paging import Pagination
from .selector import Selector
from .template import Template, compile_tree

__all__ = ["Endpoint", "StockRead", "StockWrite", "Stream", "TopicRule", "format_time", "parse_time", "pick_topic"]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Endpoint:
    """Method, path (relative to ``base_path``) and parameter templates: ``params`` go in the query,
    ``form`` in a form body, ``json`` in a JSON body."""

    method: str
    path: Template
    params: Any = None
    form: Any = None
    json: Any = None
    records: Selector | None = None

    @classmethod
    def read(cls, r: Reader, *, records_required: bool = False) -> Endpoint:
        bodies = [k for k in ("form", "json") if r.has(k)]
        if len(bodies) > 1:
            raise r.error("json", "give either form or json, not both")
        records = r.get("records", str, None if not records_required else ...)
        if records is ...:
            raise r.error("records", "is required (jsonpath of the records in the answer)")
        return cls(
            method=r.choice("method", METHODS, "GET"),
            path=Template.compile(r.need("path", str), file=r.file, key=r.where("path")),
            params=compile_tree(r.get("params", dict, {}), file=r.file, key=r.where("params")),
            form=compile_tree(r.get("form", dict, None), file=r.file, key=r.where("form")),
            json=compile_tree(r.get("json", (dict, list), None), file=r.file, key=r.where("json")),
            records=Selector.compile(records, file=r.file, key=r.where("records")) if records else None,
        )


@dataclass(frozen=True)
class StockRead:
    """Read sellable quantities; records matched back to SKUs through ``match``."""

    endpoint: Endpoint
    per_sku: bool
    match: Template
    sku_field: Selector
    quantity_field: Selector

    @classmethod
    def read(cls, r: Reader) -> StockRead:
        endpoint = Endpoint.read(r, records_required=True)
        fields = r.child("fields")
        assert fields is not None
        spec = cls(
            endpoint=endpoint, per_sku=r.get("per_sku", bool, False),
            match=Template.compile(r.get("match", str, "{sku}"), file=r.file, key=r.where("match")),
            sku_field=Selector.compile(fields.need("sku", str), file=r.file, key=fields.where("sku")),
            quantity_field=Selector.compile(fields.need("quantity", str), file=r.file, key=fields.where("quantity")),
        )
        fields.done()
        r.done()
        return spec


@dataclass(frozen=True)
class StockWrite:
    """Set an absolute quantity; ``quantity`` (optional jsonpath) reads back what the platform holds."""

    endpoint: Endpoint
    quantity_field: Selector | None

    @classmethod
    def read(cls, r: Reader) -> StockWrite:
        endpoint = Endpoint.read(r)
        quantity = r.get("quantity", str, None)
        spec = cls(endpoint, Selector.compile(quantity, file=r.file, key=r.where("quantity")) if quantity else None)
        r.done()
        return spec


@dataclass(frozen=True)
class TopicRule:
    """``{topic: order.cancel, when: "$.status", equals: 9}``: first rule that matches names the event;
    ``when`` alone means "exists", no ``when`` always matches. ``event_id`` (pushes) is a template over
    the payload's top-level fields plus ``topic`` and ``digest``."""

    topic: str
    when: Selector | None = None
    equals: str | None = None
    event_id: Template | None = None

    @classmethod
    def read_list(cls, r: Reader, name: str, *, required: bool = True) -> tuple[TopicRule, ...]:
        items = r.get(name, list, None if not required else [])
        if required and not items:
            raise r.error(name, "needs at least one {topic: ..., when: ...} rule")
        rules = []
        for i, item in enumerate(items or []):
            sub = Reader(item, file=r.file, key=r.where(f"{name}[{i}]"))
            when = sub.get("when", str, None)
            equals = sub.get("equals", (str, int), None)
            event_id = sub.get("event_id", str, None)
            rules.append(cls(
                topic=sub.need("topic", str),
                when=Selector.compile(when, file=r.file, key=sub.where("when")) if when else None,
                equals=None if equals is None else str(equals),
                event_id=Template.compile(event_id, file=r.file, key=sub.where("event_id")) if event_id else None,
            ))
            sub.done()
        return tuple(rules)

    def matches(self, payload: Any) -> bool:
        if self.when is None:
            return True
        found = self.when.all(payload)
        if not found:
            return False
        return self.equals is None or any(str(v) == self.equals for v in found)


def pick_topic(rules: tuple[TopicRule, ...], payload: Any) -> TopicRule | None:
    return next((rule for rule in rules if rule.matches(payload)), None)


@dataclass(frozen=True)
class Stream:
    """A pollable list of changed records inside a fixed ``[since, until]`` window (see ``PollCursor``)."""

    name: str
    endpoint: Endpoint
    pagination: Pagination
    key: Selector
    updated_at: Selector
    time_format: str
    overlap_seconds: float
    topics: tuple[TopicRule, ...]

    @classmethod
    def read(cls, name: str, r: Reader) -> Stream:
        endpoint = Endpoint.read(r, records_required=True)
        paging = r.child("pagination")
        assert paging is not None
        spec = cls(
            name=name, endpoint=endpoint, pagination=Pagination.read(paging),
            key=Selector.compile(r.need("key", str), file=r.file, key=r.where("key")),
            updated_at=Selector.compile(r.need("updated_at", str), file=r.file, key=r.where("updated_at")),
            time_format=r.choice("time_format", ("epoch_s", "epoch_ms", "iso"), "iso"),
            overlap_seconds=r.get("overlap_seconds", float, 5.0),
            topics=TopicRule.read_list(r, "topics"),
        )
        r.done()
        return spec


def parse_time(value: Any, time_format: str) -> datetime:
    """A record's timestamp as an aware datetime; raises ``ValueError`` naming the value."""
    if value is None or value == "":
        raise ValueError("record has no updated_at value")
    if time_format in ("epoch_s", "epoch_ms"):
        seconds = float(value) / (1000 if time_format == "epoch_ms" else 1)
        return datetime.fromtimestamp(seconds, UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime | None, time_format: str) -> Any:
    if value is None:
        return None
    if time_format == "epoch_s":
        return int(value.timestamp())
    if time_format == "epoch_ms":
        return int(value.timestamp() * 1000)
    return value.isoformat()

