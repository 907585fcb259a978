"""Order details the platform did not push, and platform ids turned into the merchant's skus.

Some pushes only *name* what changed: a Taobao TMC trade message carries tid/oid, a Douyin order push
carries p_id/s_ids, a Douyin tag-400 push says a product changed. The mapping rules turn those into an
order without lines (or nothing), which reserves nothing. The pipeline then asks for the ``orders.enrich``
job: it fetches the detail through the source's connector (Douyin ``enrich`` / ``/sku/stockNum``, Taobao
``taobao.trade.fullinfo.get``) and stores the answer as a *derived* raw event — same source, event id
``<original>:detail``, a topic the rules know, lineage parent ``raw:<original>`` — which the inbox then
processes like any other. The fetch happens outside the pipeline's transaction (no network call while
holding sku locks), and a derived event never asks for another fetch, so there is no loop.

``resolve_skus`` is the pipeline's hook for skus: rules use the merchant's code where the payload has one;
where a platform sends only its own ids (Shopify inventory_item_id, Taobao sku_id/num_iid, Douyin sku_id,
JD skuId), the id is looked up in the source's listings (``{sku: {id name: id}}``) and replaced by the
listing's sku when exactly one listing holds it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Connector, PermanentError, PushedEvent
from hub import inbox, lineage
from hub.channels import live_source
from hub.jobs import outbox
from hub.jobs.outbox import NewJob
from hub.jobs.registry import BatchItem, JobContext, job
from hub.services.uow import UnitOfWork
from hub.storage.models import RawEvent, Source
from mappings.engine import MappingResult

log = logging.getLogger("zhongshu.enrich")

JOB = "orders.enrich"
DERIVED_MARK = ":detail"
# pushes that map to nothing until their detail is fetched, per platform
DETAIL_TOPICS: dict[str, frozenset[str]] = {"douyin": frozenset({"product.changed", "400"})}
# listing keys that name a place, not the product: never used to resolve a sku
_PLACE_KEYS = frozenset({"location_id", "location", "warehouse_id", "store_id", "app_poi_code", "storeId"})
TAOBAO_TRADE_FIELDS = ("tid,status,type,seller_nick,buyer_nick,created,modified,pay_time,consign_time,end_time,"
                       "num,num_iid,payment,total_fee,sub_stock,orders")


# -- sku resolution (pure) ----------------------------------------------------------------------------
def listing_index(listings: Mapping[str, Any]) -> dict[str, str | None]:
    """Platform id (as text) → the one sku listing it; None where several listings share the id
    (a Taobao num_iid of an item with several SKUs)."""
    index: dict[str, str | None] = {}
    shared: set[str] = set()
    for sku, ids in listings.items():
        if not isinstance(ids, Mapping):
            continue
        for key, value in ids.items():
            if key in _PLACE_KEYS or value in (None, "") or isinstance(value, (dict, list, bool)):
                continue
            text = str(value)
            if index.get(text, sku) != sku:
                shared.add(text)
            index[text] = sku
    return {text: (None if text in shared else sku) for text, sku in index.items()}


def resolve_sku(sku: str, listings: Mapping[str, Any], index: Mapping[str, str | None]) -> str:
    """``sku`` itself when it is a listed sku or unknown; the listed sku when it is (or ends in
    ``:<id>``) a platform id exactly one listing holds."""
    if sku in listings:
        return sku
    for candidate in (sku, sku.rsplit(":", 1)[-1]):
        found = index.get(candidate)
        if found:
            return found
    return sku


def resolve_skus(source: Source | None, result: MappingResult) -> MappingResult:
    """The mapping result with platform ids replaced by the source's listed skus (unchanged if none)."""
    listings = (source.listings or {}) if source is not None else {}
    if not listings or result.unmapped:
        return result
    index = _index_of(listings)

    def fix(sku: str) -> str:
        return resolve_sku(sku, listings, index)

    observations = tuple(replace(o, sku=fix(o.sku)) for o in result.observations)
    deltas = tuple(replace(d, sku=fix(d.sku)) for d in result.deltas)
    orders = tuple(replace(o, lines=tuple(replace(line, sku=fix(line.sku)) for line in o.lines))
                   for o in result.orders)  # fmt: skip
    return replace(result, observations=observations, deltas=deltas, orders=orders)


_INDEXES: dict[int, tuple[Mapping[str, Any], dict[str, str | None]]] = {}


def _index_of(listings: Mapping[str, Any]) -> dict[str, str | None]:
    """:func:`listing_index`, kept while the same listings object is in use (a cached source row)."""
    cached = _INDEXES.get(id(listings))
    if cached is not None and cached[0] is listings:
        return cached[1]
    if len(_INDEXES) > 256:
        _INDEXES.clear()
    index = listing_index(listings)
    _INDEXES[id(listings)] = (listings, index)
    return index


# -- when to fetch ------------------------------------------------------------------------------------
def is_derived(raw: RawEvent) -> bool:
    return DERIVED_MARK in (raw.platform_event_id or "")


def wants_detail(platform: str, raw: RawEvent, result: MappingResult) -> bool:
    """An order the rules found without lines, or a push its platform only announces, not yet derived."""
    if is_derived(raw):
        return False
    if any(not order.lines for order in result.orders):
        return True
    return raw.topic in DETAIL_TOPICS.get(platform, frozenset())


def orders_to_look_up(result: MappingResult) -> set[str]:
    """Orders named without lines whose lines a reservation may already know (a creation or a payment)."""
    return {o.order_ref for o in result.orders if not o.lines and o.kind in ("created", "paid")}


def needs_fetch(platform: str, raw: Any, result: MappingResult, held: set[str]) -> bool:
    """:func:`wants_detail`, except for a push that only names orders already reserved (``held``: their
    lines are known): Douyin's ``order.paid`` after ``order.created`` adds nothing to the ledger, so its
    detail is not fetched and stored a second time."""
    if not wants_detail(platform, raw, result):
        return False
    unlined = [o for o in result.orders if not o.lines]
    known = bool(unlined) and all(o.kind in ("created", "paid") and o.order_ref in held for o in unlined)
    return not known or raw.topic in DETAIL_TOPICS.get(platform, frozenset())


async def request(session: AsyncSession, source: str, raw_event_ids: list[int]) -> None:
    """Enqueue the fetches in the caller's transaction (coalesced per raw event)."""
    await outbox.enqueue_many(session, [NewJob(JOB, f"enrich:{i}", {"raw_event_id": i, "source": source})
                                        for i in raw_event_ids])  # fmt: skip


# -- the job ------------------------------------------------------------------------------------------
FETCH_CONCURRENCY = 16


@job(JOB, group=lambda args: str(args.get("source") or ""))
async def enrich_orders(ctx: JobContext, items: list[BatchItem]) -> dict[int, BaseException]:
    """Fetch the details a source's raw events only name, concurrently, and store them as derived raw
    events in one transaction. Idempotent: the derived event ids are fixed, so a re-run stores nothing
    new. A transient platform error fails that event's job (retried); a permanent one (no such order) is
    logged and given up."""
    jobs: dict[int, list[int]] = {}
    for item in items:
        jobs.setdefault(int(item.args["raw_event_id"]), []).append(item.job_id)
    async with ctx.sessionmaker() as session:
        raws = (await session.execute(select(RawEvent).where(RawEvent.id.in_(list(jobs))))).scalars().all()
        todo = []
        for raw in raws:
            source, connector = await live_source(session, ctx.settings, raw.source)
            if source is not None and connector is not None and source.enabled and not is_derived(raw):
                todo.append((raw.id, source.name, source.platform, connector, raw.platform_event_id, raw.topic,
                             _payload(raw)))  # fmt: skip
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)
    failures: dict[int, BaseException] = {}

    async def fetch(raw_id: int, platform: str, connector: Connector, event_id: str, topic: str,
                    payload: Any) -> list[tuple[str, str, Any]]:  # fmt: skip
        async with gate:
            try:
                return await fetch_detail(platform, connector, event_id, topic, payload)
            except PermanentError as exc:
                log.warning("raw event %s (%s %s): detail not fetched: %s", raw_id, connector.name, topic, exc)
            except Exception as exc:  # noqa: BLE001 - this event's job retries; the others go on
                failures[raw_id] = exc
            return []

    fetched = await asyncio.gather(*(fetch(r[0], *r[2:]) for r in todo))
    derived = [(raw_id, name, event_id, d) for (raw_id, name, _, _, event_id, _, _), ds in zip(todo, fetched, strict=True)
               for d in ds]  # fmt: skip
    if derived:
        async with UnitOfWork(ctx.sessionmaker, ctx.queue) as uow:
            for raw_id, name, event_id, (suffix, d_topic, d_payload) in derived:
                body = json.dumps(d_payload, ensure_ascii=False, default=str).encode()
                stored = await inbox.store_and_enqueue(
                    uow, source=name, platform_event_id=f"{event_id}{DERIVED_MARK}{suffix}", topic=d_topic,
                    body=body, payload=d_payload, headers={"derived_from": f"raw:{raw_id}", "via": JOB},
                    verification="fetched over the platform's signed API")  # fmt: skip
                await lineage.record(uow.session, f"raw:{stored.raw_event_id}", kind="raw_event",
                                     parents=[f"raw:{raw_id}"])  # fmt: skip
            await uow.commit()
    return {job_id: exc for raw_id, exc in failures.items() for job_id in jobs[raw_id]}


def _payload(raw: RawEvent) -> Any:
    if raw.payload is not None:
        return raw.payload
    try:
        return json.loads(raw.body)
    except (ValueError, UnicodeDecodeError):
        return {}


async def fetch_detail(
    platform: str, connector: Connector, event_id: str, topic: str, payload: Any
) -> list[tuple[str, str, Any]]:
    """``[(event id suffix, topic, payload)]`` to store for one raw event; empty when the platform has
    nothing to add. A connector outside the built-ins may offer ``fetch_detail(topic, payload)``
    returning the same list."""
    if not isinstance(payload, dict):
        return []
    own = getattr(connector, "fetch_detail", None)
    if own is not None:
        return list(await own(topic, payload))
    if platform == "taobao":
        return await _taobao_trade(connector, payload)
    if platform == "douyin":
        return await _douyin(connector, event_id, topic, payload)
    return []


async def _taobao_trade(connector: Connector, payload: dict[str, Any]) -> list[tuple[str, str, Any]]:
    content = payload.get("content")
    if isinstance(content, str):
        content = json.loads(content or "{}")
    tid = (content or {}).get("tid")
    if tid is None:
        return []
    body = await connector.client.call("taobao.trade.fullinfo.get",  # type: ignore[attr-defined]
                                       {"tid": tid, "fields": TAOBAO_TRADE_FIELDS})  # fmt: skip
    if not body.get("trade"):
        return []
    return [("", "taobao.trade.fullinfo.get", {"trade_fullinfo_get_response": body})]


async def _douyin(connector: Connector, event_id: str, topic: str, payload: dict[str, Any]) -> list[tuple[str, str, Any]]:
    data = payload.get("data")
    if isinstance(data, str):
        data = json.loads(data or "{}")
    data = data if isinstance(data, dict) else {}
    if str(payload.get("tag")) == "400":
        page = await connector.poll("stock", None)
        product = data.get("product_id")
        listings = connector.config.listings
        out = []
        for e in page.events:
            sku = str(e.payload.get("sku"))
            listed_product = (listings.get(sku) or {}).get("product_id")
            if product is not None and listed_product is not None and str(listed_product) != str(product):
                continue
            out.append((f":{sku}", "stock.level", e.payload))
        return out
    if "p_id" not in data:
        return []
    event = PushedEvent(event_id=event_id, topic=topic, payload={**payload, "data": data})
    enriched = await connector.enrich(event)  # type: ignore[attr-defined]
    if not enriched.payload.get("order"):
        return []
    return [("", topic, enriched.payload)]
