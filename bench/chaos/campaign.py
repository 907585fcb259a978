"""Run seeds against the real stack: drive the plan, inject its faults, quiesce, check the invariants.

One stack (fresh database, dedicated Redis db) serves a whole campaign; every seed has its own sandboxes
(Shopify, Douyin, a Qimen WMS, a Kingdee ERP — the only enabled ERP while the seed runs — and an outbound-webhook
subscriber), sources and skus (named after the seed), so ``--seed N`` alone replays seed N's workload and fault
schedule on a fresh stack.

The WMS runs the seed's warehouse: receipts are purchase entry orders the hub sends it (retried by the client
under one code), Douyin orders are routed to it as delivery orders, and the campaign has it receive or ship
each order a moment after it accepted it (its confirmation goes through the relay like every push). The model
counts what the WMS received and shipped, read from the WMS itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.chaos import invariants
from bench.chaos.relay import Capture, Relay
from bench.chaos.stack import Stack
from bench.chaos.subscriber import Subscriber
from bench.chaos.workload import CHANNEL_TIMEOUT, LOCATION, Model, Step, plan
from connectors.testing import run_sandbox
from hub.sync.publish import PublishRule

KEY, SECRET, TOKEN = "chaos-app", "chaos-app-secret", "chaos-access-token"
SHOP_DOMAIN = "zhongshu-sandbox.myshopify.com"
ORDER_TOPICS = frozenset({"orders/create", "orders/cancelled", "100", "101", "106"})
DOUYIN_RULE = {"buffer": 1}
WMS_KEY, WMS_SECRET, WMS_CUSTOMER = "chaos-wms", "chaos-wms-secret-0123", "CHAOSCUST"
WMS_SHIP_AFTER = 0.3
"""Seconds the WMS keeps an accepted order before it ships / receives it (so a snapshot can find one in flight)."""
RECEIPT_WAIT = 5.0
"""How long a receipt step waits for the WMS to receive its entry order before the plan goes on."""
DELIVERY_DEADLINE = float(os.environ.get("CHAOS_DELIVERY_DEADLINE", "60"))
QUIESCE_TIMEOUT = float(os.environ.get("CHAOS_QUIESCE_TIMEOUT", "60"))
"""A healthy stack quiesces within seconds of the last delivery; past this the run is a violation."""
RECOVERY_CAP = float(os.environ.get("CHAOS_RECOVERY_CAP", "60"))
KD_APP_ID = "zs0001_" + __import__("base64").b64encode(bytes(range(40, 64))).decode()
KD_SECRET, KD_ACCT, KD_BOOK = "kd-sandbox-app-secret", "zs-chaos", "001"
UNIT_COST = "10.00"
ERP_TIMEOUT = 1.0  # the Kingdee source's timeout; erp_timeout_after_save answers later than this


@dataclass
class SeedResult:
    seed: int
    steps: int
    events: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    recoveries: list[tuple[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    skipped_orders: int = 0
    checked: Counter[str] = field(default_factory=Counter)

    @property
    def slowest_recovery(self) -> float:
        return max((s for _, s in self.recoveries), default=0.0)


class SeedRun:
    def __init__(self, stack: Stack, seed: int, steps: int) -> None:
        self.stack, self.seed, self.n_steps = stack, seed, steps
        self.skus = [f"C{seed}-{i}" for i in range(3)]
        self.sources = {"shopify": f"shop_s{seed}", "douyin": f"dy_s{seed}"}
        self.plan = plan(seed, steps, self.skus)
        self.rng = random.Random(seed * 7919 + 1)  # delivery order and API choice; the plan has its own
        self.model = Model(rules={"shopify": PublishRule(), "douyin": PublishRule.from_config(DOUYIN_RULE, {})})
        self.result = SeedResult(seed, steps)
        self.relay = Relay()
        self.scheduled: list[tuple[float, Capture]] = []  # (due step, capture); inf = late
        self.background: set[asyncio.Task[Any]] = set()
        self.held: list[Capture] = []
        self.order_ids: dict[int, str] = {}  # plan index -> platform order id
        self.order_keys: dict[int, str] = {}
        self.sandboxes: dict[str, str] = {}
        self.douyin_ids: dict[str, int] = {}
        self.http = httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {stack.token}"})
        self.erp = f"kd_s{seed}"
        self.erp_url = ""
        self.subscriber = Subscriber()
        self.subscription_id: int | None = None
        self.stale: list[tuple[str, int]] = []  # (event id sent, status answered) of webhook_stale deliveries
        self.wms = f"wms_s{seed}"
        self.wms_url = ""
        self.wms_hold = False  # wms_snapshot_mid_shipment: the WMS's confirmations wait in wms_held
        self.wms_held: list[Capture] = []
        self.wms_accepted: dict[str, float] = {}  # WMS order code -> when it was first seen accepted
        self.entries: dict[str, tuple[str, int]] = {}  # entry order code -> (sku, qty) acknowledged by the hub
        self.snapshot_due = False

    # -- plumbing -----------------------------------------------------------------------------------
    def api(self) -> str:
        alive = [p.url for p in self.stack.procs.values() if p.kind == "api" and p.alive()]
        return self.rng.choice(alive or self.stack.api_urls)

    async def call(self, method: str, path: str, ok: tuple[int, ...] = (200, 201, 202), **kw: Any) -> httpx.Response:
        """An API call, retried across processes until it is answered (a kill or restart is not an answer)."""
        deadline = time.monotonic() + DELIVERY_DEADLINE
        delay = 0.05
        while True:
            try:
                r = await self.http.request(method, self.api() + path, **kw)
                if r.status_code in ok or (400 <= r.status_code < 500 and r.status_code not in (408, 429)):
                    return r
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{method} {path}: no answer within {DELIVERY_DEADLINE}s")
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)

    async def deliver(self, cap: Capture) -> None:
        """One delivery of a captured push, retried until the hub acknowledges it (as the platform would)."""
        deadline = time.monotonic() + DELIVERY_DEADLINE
        delay = 0.05
        refusals = 0
        while True:
            try:
                query = f"?{cap.query}" if cap.query else ""
                r = await self.http.post(f"{self.api()}/webhooks/{cap.source}{query}", content=cap.body,
                                         headers=cap.headers)  # fmt: skip
                cap.deliveries += 1
                platform = self.relay.platforms[cap.source]
                if r.status_code == 200 and (platform != "douyin" or r.json().get("code") == 0) and \
                        (platform != "qimen" or "<flag>success</flag>" in r.text):
                    cap.acked = True
                    return
                if r.status_code in (400, 401, 403, 404):
                    refusals += 1
                    cap.refused = f"{r.status_code} {r.text[:200]}"
                    if refusals >= 3:
                        return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def pump(self) -> None:
        """Route new captures: channel-side pushes (stock levels after the hub's writes) are delivered at
        once in the background; order pushes wait in ``held`` for the step that caused them."""
        for cap in self.relay.take():
            if cap.source == self.wms and self.wms_hold:
                self.wms_held.append(cap)
            elif ORDER_TOPICS & set(cap.topics):
                self.held.append(cap)
            else:
                self.spawn(self.deliver(cap))

    async def pump_forever(self) -> None:
        while True:
            self.pump()
            await asyncio.sleep(0.05)

    # -- setup --------------------------------------------------------------------------------------
    async def register(self, relay_url: str, subscriber_url: str) -> None:
        shop_sb, dy_sb = self.sandboxes["shopify"], self.sandboxes["douyin"]
        async with httpx.AsyncClient(timeout=10) as sb:
            shop_stock = (await sb.get(f"{shop_sb}/_sandbox/stock")).json()["stock"]
            dy_stock = (await sb.get(f"{dy_sb}/_sandbox/stock")).json()["stock"]
        self.douyin_ids = {s: dy_stock[s]["sku_id"] for s in self.skus}
        shop_listings = {s: {"inventory_item_id": shop_stock[s]["inventory_item_id"],
                             "location_id": shop_stock[s]["location_id"]} for s in self.skus}  # fmt: skip
        sources = [
            ("shopify", shop_sb, shop_listings, {"shop_domain": SHOP_DOMAIN, "poll": False, "timeout": CHANNEL_TIMEOUT},
             {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN}),
            ("douyin", dy_sb, {s: {"sku_id": i} for s, i in self.douyin_ids.items()},
             {"poll": False, "publish": DOUYIN_RULE, "timeout": CHANNEL_TIMEOUT},
             {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN}),
        ]  # fmt: skip
        sources[1][3]["routing"] = {"warehouses": {LOCATION: {"wms": self.wms}}, "priority": [LOCATION]}
        await self.register_wms()
        for platform, url, listings, settings, creds in sources:
            name = self.sources[platform]
            self.relay.platforms[name] = platform
            r = await self.call("POST", "/api/v1/sources", json={
                "name": name, "platform": platform, "base_url": url, "default_location": LOCATION,
                "listings": listings, "settings": settings})  # fmt: skip
            if r.status_code != 201 and "exists already" not in r.text:
                raise RuntimeError(f"cannot register {name}: {r.status_code} {r.text}")
            r = await self.call("PUT", f"/api/v1/sources/{name}/credentials", json={"credentials": creds})
            if r.status_code != 200:
                raise RuntimeError(f"cannot set credentials of {name}: {r.status_code} {r.text}")
        await self.register_erp_and_subscriber(subscriber_url)

    async def register_wms(self) -> None:
        """This seed's WMS, running the warehouse ``LOCATION``; its pushes reach the hub through the relay."""
        self.relay.platforms[self.wms] = "qimen"
        r = await self.call("POST", "/api/v1/sources", json={
            "name": self.wms, "platform": "qimen", "base_url": self.wms_url,
            "settings": {"customer_id": WMS_CUSTOMER, "format": "xml"}})  # fmt: skip
        if r.status_code != 201 and "exists already" not in r.text:
            raise RuntimeError(f"cannot register {self.wms}: {r.status_code} {r.text}")
        r = await self.call("PUT", f"/api/v1/sources/{self.wms}/credentials",
                            json={"credentials": {"app_key": WMS_KEY, "app_secret": WMS_SECRET}})  # fmt: skip
        if r.status_code not in (200, 204):
            raise RuntimeError(f"cannot set credentials of {self.wms}: {r.status_code} {r.text}")

    async def wms_orders(self, kind: str = "delivery") -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10) as sb:
            return [o for o in (await sb.get(f"{self.wms_url}/_sandbox/stock")).json()["orders"] if o["kind"] == kind]

    async def wms_event(self, body: dict[str, Any]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as sb:
            return await sb.post(f"{self.wms_url}/_sandbox/events", json=body)

    async def wms_ships(self) -> None:
        """The warehouse at work: every order accepted for WMS_SHIP_AFTER seconds is shipped or received."""
        while True:
            try:
                now = time.monotonic()
                for kind in ("delivery", "entry"):
                    for order in await self.wms_orders(kind):
                        if order["status"] != "ACCEPT":
                            continue
                        seen = self.wms_accepted.setdefault(order["code"], now)
                        if now - seen >= WMS_SHIP_AFTER:
                            r = await self.wms_event({"type": "confirm", "orderCode": order["code"]})
                            if kind == "entry" and r.status_code == 200:
                                self.wms_received(order)
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            await asyncio.sleep(0.1)

    def wms_received(self, order: dict[str, Any]) -> None:
        """The WMS has the entry order's goods on its shelves: the hub owes them to the ledger."""
        if order["code"] in self.model.receipts or order["code"] not in self.entries:
            return  # an order no client asked for is a violation (wms_record), not stock the model expects
        for line in order["lines"]:
            self.model.receive(str(line["itemCode"]), int(line["planQty"]), receipt=order["code"])

    async def wms_busy(self) -> bool:
        """Work the WMS still owes the hub: an accepted order not shipped / received yet, or held confirmations."""
        if self.wms_held:
            return True
        for kind in ("delivery", "entry"):
            if any(o["status"] == "ACCEPT" for o in await self.wms_orders(kind)):
                return True
        return False

    async def snapshot_mid_shipment(self, *, force: bool = False) -> None:
        """Hold the WMS's confirmations back, have it ship an accepted order, take a stock count and wait until
        the hub has processed it, then let the confirmation through. Waits (``snapshot_due``) for a step with
        an order in flight unless ``force``."""
        accepted = [o for o in await self.wms_orders() if o["status"] == "ACCEPT"]
        if not accepted and not force:
            return
        self.snapshot_due = False
        self.wms_hold = True
        try:
            if accepted:
                order = self.rng.choice(accepted)
                await self.wms_event({"type": "confirm", "orderCode": order["code"]})
                deadline = time.monotonic() + 5
                while not self.wms_held and time.monotonic() < deadline:
                    self.pump()
                    await asyncio.sleep(0.02)
                self.result.checked["wms snapshots with a shipment in flight"] += int(bool(self.wms_held))
            conn = await self.stack.db()
            try:
                before = await conn.fetchval("SELECT coalesce(max(id), 0) FROM raw_events WHERE source = $1", self.wms)
            finally:
                await conn.close()
            r = await self.call("POST", "/api/v1/warehouse/stock-counts", json={
                "wms_source": self.wms, "warehouse": LOCATION, "items": self.skus})  # fmt: skip
            if r.status_code != 202:
                self.result.violations.append(f"stock count refused: {r.status_code} {r.text[:200]}")
                return
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                conn = await self.stack.db()
                try:
                    done = await conn.fetchval("SELECT count(*) FROM raw_events WHERE source = $1 AND id > $2 AND "
                                               "topic = 'inventory.query' AND status <> 'pending'", self.wms, before)  # fmt: skip
                finally:
                    await conn.close()
                if done:
                    break
                await asyncio.sleep(0.1)
        finally:
            self.wms_hold = False
            held, self.wms_held = self.wms_held, []
            for cap in held:
                self.spawn(self.deliver(cap))

    async def wms_record(self) -> None:
        """What the WMS received and shipped, per order (its own record), into the model; its stock is checked
        against it."""
        for order in await self.wms_orders("entry"):
            if order["code"] not in self.entries:
                self.result.violations.append(f"the WMS has entry order {order['code']} no client asked for")
            elif order["status"] == "CONFIRMED":
                self.wms_received(order)
        self.result.violations += [f"entry order {code} never reached the WMS" for code in self.entries
                                   if code not in self.model.receipts]  # fmt: skip
        self.result.checked["purchases received (checked in the WMS)"] += len(self.model.receipts)
        prefix = f"{self.sources['douyin']}-"
        for order in await self.wms_orders():
            code = order["code"]
            if order["status"] != "CONFIRMED":
                continue
            key = f"douyin:{code[len(prefix):-len(LOCATION) - 1]}" if code.startswith(prefix) else code
            if key not in self.model.orders:
                self.result.violations.append(f"the WMS shipped {code}, an order the model does not know")
                continue
            self.model.shipped[key] = sum(int(ln["planQty"]) for ln in order["lines"])

    async def register_erp_and_subscriber(self, subscriber_url: str) -> None:
        """This seed's Kingdee (the only enabled ERP while it runs) and its outbound-webhook subscriber."""
        r = await self.call("POST", "/api/v1/sources", json={
            "name": self.erp, "platform": "kingdee", "base_url": f"{self.erp_url}/k3cloud/",
            "settings": {"auth": "password", "acct_id": KD_ACCT, "username": "administrator", "books": {"E1": KD_BOOK},
                         "timeout": ERP_TIMEOUT, "retry_attempts": 2, "retry_initial": 0.05, "retry_maximum": 0.2}})  # fmt: skip
        if r.status_code != 201 and "exists already" not in r.text:
            raise RuntimeError(f"cannot register {self.erp}: {r.status_code} {r.text}")
        r = await self.call("PUT", f"/api/v1/sources/{self.erp}/credentials", json={"credentials": {"password": "888888"}})
        if r.status_code != 200:
            raise RuntimeError(f"cannot set credentials of {self.erp}: {r.status_code} {r.text}")
        r = await self.call("POST", "/api/v1/subscriptions", json={
            "url": f"{subscriber_url}/hook", "event_types": ["*"], "description": f"chaos seed {self.seed}"})  # fmt: skip
        if r.status_code != 201:
            raise RuntimeError(f"cannot subscribe {subscriber_url}: {r.status_code} {r.text}")
        self.subscription_id = int(r.json()["id"])

    # -- steps --------------------------------------------------------------------------------------
    async def receive(self, index: int, step: Step) -> None:
        """A purchase: an entry order the hub sends the WMS, priced per unit; the goods count once the WMS
        has received them (``wms_ships``). Waits a little for that so the plan's orders find stock."""
        code = f"PO-s{self.seed}-{index}"
        body = {"kind": "purchase", "code": code, "warehouse": LOCATION, "wms_source": self.wms,
                "lines": [{"sku": step.sku, "qty": step.qty, "unit_cost": UNIT_COST}]}  # fmt: skip
        for _ in range(step.copies):  # a client that retries (same code): one order, received once
            r = await self.call("POST", "/api/v1/warehouse/entry-orders", json=body)
            if r.status_code == 201:
                self.entries[code] = (step.sku, step.qty)
            else:
                self.result.violations.append(f"entry order refused: {code} {r.status_code} {r.text[:200]}")
        self.result.events += step.copies
        deadline = time.monotonic() + RECEIPT_WAIT
        while code in self.entries and code not in self.model.receipts and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def sandbox_event(self, channel: str, body: dict[str, Any]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as sb:
            return await sb.post(f"{self.sandboxes[channel]}/_sandbox/events", json=body)

    async def channel_stock(self, channel: str) -> dict[str, int]:
        async with httpx.AsyncClient(timeout=10) as sb:
            stock = (await sb.get(f"{self.sandboxes[channel]}/_sandbox/stock")).json()["stock"]
        if channel == "shopify":
            return {s: int(stock[s]["available"]) for s in self.skus}
        return {s: int(stock[s]["stock_num"]) - int(stock[s]["prehold_stock_num"]) for s in self.skus}

    async def order(self, index: int, step: Step) -> None:
        shown = (await self.channel_stock(step.channel))[step.sku]
        qty = min(step.qty, self.model.budget(step.sku), shown)
        if qty <= 0:  # the hub could not honour it: the plan's order is skipped, not oversold
            self.result.skipped_orders += 1
            return
        if step.channel == "shopify":
            r = await self.sandbox_event("shopify", {"type": "order", "sku": step.sku, "quantity": qty})
            order_id = str(r.json()["order"]["id"]) if r.status_code == 201 else ""
        else:
            r = await self.sandbox_event("douyin", {"type": "order", "sku": step.sku, "qty": qty})
            order_id = str(r.json().get("order_id", "")) if r.status_code == 200 else ""
        if not order_id:
            self.result.skipped_orders += 1
            return
        key = f"{step.channel}:{order_id}"
        self.order_ids[index], self.order_keys[index] = order_id, key
        self.model.order(key, step.sku, qty)
        await self.schedule(index, step, expected=1 if step.channel == "shopify" else 2)

    async def cancel(self, index: int, step: Step) -> None:
        order_id = self.order_ids.get(step.ref)
        if order_id is None:
            return
        body: dict[str, Any] = {"type": "cancel", "order_id": int(order_id) if step.channel == "shopify" else order_id}
        r = await self.sandbox_event(step.channel, body)
        if r.status_code not in (200, 201):
            self.result.violations.append(f"sandbox refused cancel {order_id}: {r.text[:200]}")
            return
        self.model.cancel(self.order_keys[step.ref])
        await self.schedule(index, step, expected=1)

    async def schedule(self, index: int, step: Step, *, expected: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.held) < expected and time.monotonic() < deadline:
            self.pump()
            if len(self.held) < expected:
                await asyncio.sleep(0.01)
        caps, self.held = self.held[:expected], self.held[expected:]
        if len(caps) < expected:
            self.result.violations.append(f"step {index}: the sandbox pushed {len(caps)} of {expected} order messages")
        assert step.delivery is not None
        for cap in caps:
            self.result.events += len(step.delivery.offsets)
            for offset in step.delivery.offsets:
                self.scheduled.append((float("inf") if offset is None else index + offset, cap))
        for kind in step.delivery.kinds:
            self.result.faults[kind] += 1

    async def deliver_due(self, index: float) -> None:
        due = [c for d, c in self.scheduled if d <= index]
        self.scheduled = [(d, c) for d, c in self.scheduled if d > index]
        self.rng.shuffle(due)
        for cap in due:
            await self.deliver(cap)

    async def fault(self, index: int, step: Step) -> None:
        self.result.faults[step.fault] += 1
        if step.fault in ("api_kill", "worker_kill"):
            marks = await invariants.marks(self.stack)
            killed = time.monotonic()
            self.stack.kill(step.target)
            self.spawn(self.recover(step, marks, killed))
        elif step.fault == "pg_restart":
            self.spawn(self.stack.pg_outage())
        elif step.fault == "redis_flush":
            await self.stack.flush_redis()
        elif step.fault in ("sandbox_5xx", "sandbox_429", "sandbox_latency", "sandbox_timeout"):
            body: dict[str, Any] = {"force_error": {"kind": "server", "count": step.qty}} if step.fault == "sandbox_5xx" \
                else {"force_429": step.qty} if step.fault == "sandbox_429" else {"latency_ms": step.qty}
            async with httpx.AsyncClient(timeout=10) as sb:
                await sb.post(f"{self.sandboxes[step.target]}/_sandbox/faults", json=body)
            if step.fault in ("sandbox_latency", "sandbox_timeout"):
                self.spawn(self._latency_off(step.target))
        elif step.fault == "erp_timeout_after_save":
            async with httpx.AsyncClient(timeout=10) as sb:
                await sb.post(f"{self.erp_url}/_sandbox/knobs", json={"timeout_after_save": step.qty,
                                                                      "timeout_seconds": ERP_TIMEOUT + 0.5})  # fmt: skip
        elif step.fault == "wms_snapshot_mid_shipment":
            self.snapshot_due = True
            await self.snapshot_mid_shipment()
        elif step.fault == "credentials_rotate":
            name = self.sources[step.target]
            r = await self.call("PUT", f"/api/v1/sources/{name}/credentials", json={
                "credentials": {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN}})  # fmt: skip
            if r.status_code != 200:
                self.result.violations.append(f"credentials rotation refused: {r.status_code} {r.text[:200]}")

    async def _latency_off(self, channel: str) -> None:
        await asyncio.sleep(2.0)
        async with httpx.AsyncClient(timeout=10) as sb:
            await sb.post(f"{self.sandboxes[channel]}/_sandbox/faults", json={"latency_ms": 0})

    async def recover(self, step: Step, marks: tuple[int, int], killed: float) -> None:
        await asyncio.sleep(step.pause)
        await self.stack.restart(step.target)
        seconds = await invariants.drained(self.stack, marks, since=killed, cap=RECOVERY_CAP)
        self.result.recoveries.append((step.fault, seconds))

    # -- the run ------------------------------------------------------------------------------------
    async def run(self) -> SeedResult:
        started = time.monotonic()
        from connectors.douyin.sandbox import create_app as douyin_app
        from connectors.kingdee.sandbox import create_app as kingdee_app
        from connectors.qimen.sandbox import create_app as qimen_app
        from connectors.shopify.sandbox import create_app as shopify_app

        with run_sandbox(self.relay) as relay_url, \
             run_sandbox(shopify_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN, skus={s: 0 for s in self.skus},
                                     hub_url=f"{relay_url}/{self.sources['shopify']}", rest_bucket=1000)) as shop_url, \
             run_sandbox(douyin_app(app_key=KEY, app_secret=SECRET, access_token=TOKEN,
                                    hub_url=f"{relay_url}/{self.sources['douyin']}", catalog={s: 0 for s in self.skus},
                                    rate_limit_per_second=200, rate_limit_burst=200)) as dy_url, \
             run_sandbox(kingdee_app(app_key=KD_APP_ID, app_secret=KD_SECRET, acct_id=KD_ACCT)) as kd_url, \
             run_sandbox(qimen_app(app_key=WMS_KEY, app_secret=WMS_SECRET, customer_id=WMS_CUSTOMER,
                                   hub_url=f"{relay_url}/{self.wms}", warehouses=(LOCATION,),
                                   confirm_delay_s=None)) as wms_url, \
             run_sandbox(self.subscriber) as subscriber_url:  # fmt: skip
            self.sandboxes = {"shopify": shop_url, "douyin": dy_url}
            self.erp_url, self.wms_url = kd_url, wms_url
            pumping = asyncio.get_running_loop().create_task(self.pump_forever())
            shipping = asyncio.get_running_loop().create_task(self.wms_ships())
            try:
                await self.register(relay_url, subscriber_url)
                await self.drive()
                await self.settle()
                await self.wms_record()
                self.result.violations += await invariants.check(self)
            finally:
                for task in (pumping, shipping):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                for task in list(self.background):
                    task.cancel()
                await asyncio.gather(*self.background, return_exceptions=True)
                await self.disable()
                await self.http.aclose()
        self.result.seconds = time.monotonic() - started
        return self.result

    async def drive(self) -> None:
        for index, step in enumerate(self.plan):
            if step.kind == "receive":
                await self.receive(index, step)
            elif step.kind == "order":
                await self.order(index, step)
            elif step.kind == "cancel":
                await self.cancel(index, step)
            else:
                await self.fault(index, step)
            await self.deliver_due(index)
            if self.snapshot_due:  # the fault waits for a step with a delivery order in flight
                await self.snapshot_mid_shipment()
            self.result.violations += await invariants.cheap(self)

    async def settle(self) -> None:
        """Deliver the late pushes, let every restart finish, then wait until nothing is left to do."""
        await self.deliver_due(float("inf"))
        if self.snapshot_due:
            await self.snapshot_mid_shipment(force=True)
        self.pump()
        for cap in self.held:  # order pushes no step claimed (none expected): delivered too
            self.spawn(self.deliver(cap))
        self.held = []
        deadline = time.monotonic() + QUIESCE_TIMEOUT + RECOVERY_CAP
        while self.background and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            self.pump()
        for name, proc in self.stack.procs.items():
            if not proc.alive():
                self.result.violations.append(f"process {name} not running after the run")
                await self.stack.restart(name)
        problem = await invariants.quiesce(self, QUIESCE_TIMEOUT)
        if problem:
            self.result.violations.append(problem)
            return
        await self.stale_and_late()
        problem = await invariants.quiesce(self, QUIESCE_TIMEOUT)
        if problem:
            self.result.violations.append(f"after the stale and late deliveries: {problem}")

    async def post_once(self, cap: Capture, headers: dict[str, str]) -> httpx.Response | None:
        """One delivery, repeated only while no API process answers at all."""
        deadline = time.monotonic() + DELIVERY_DEADLINE
        while time.monotonic() < deadline:
            try:
                return await self.http.post(f"{self.api()}/webhooks/{cap.source}", content=cap.body, headers=headers)
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
        return None

    async def stale_and_late(self) -> None:
        """Once everything was processed: Shopify pushes re-sent hours late (clock-shifted Triggered-At, a new
        event id so only the replay window can stop them), and every Douyin push delivered once more."""
        shop = [c for c in self.relay.captures if c.source == self.sources["shopify"] and c.acked
                and ORDER_TOPICS & set(c.topics)]  # fmt: skip
        for cap in self.rng.sample(shop, min(2, len(shop))):
            hours = self.rng.uniform(2, 6)
            shifted = datetime.now(timezone.utc) - timedelta(hours=hours)
            event_id = f"stale-s{self.seed}-{cap.seq}"
            headers = {**cap.headers, "x-shopify-triggered-at": shifted.isoformat().replace("+00:00", "Z"),
                       "x-shopify-event-id": event_id}  # fmt: skip
            r = await self.post_once(cap, headers)
            self.stale.append((event_id, r.status_code if r is not None else 0))
            self.result.faults["webhook_stale"] += 1
            self.result.events += 1
            if r is not None and r.status_code == 200:
                self.result.violations.append(f"stale push accepted: {event_id} triggered {hours:.1f} h ago")
        for cap in [c for c in self.relay.captures if c.source == self.sources["douyin"] and c.acked]:
            r = await self.post_once(cap, cap.headers)
            self.result.faults["webhook_redelivered_late"] += 1
            self.result.events += 1
            ok = r is not None and r.status_code == 200
            try:
                ok = ok and r is not None and r.json().get("code") == 0
            except ValueError:
                ok = False
            if not ok:
                self.result.violations.append(f"late redelivery of {cap.event_ids} not acknowledged: "
                                              f"{r.status_code if r is not None else 'no answer'} {r.text[:200] if r is not None else ''}")  # fmt: skip

    async def disable(self) -> None:
        for name in [*self.sources.values(), self.erp, self.wms]:
            with contextlib.suppress(Exception):
                await self.call("PATCH", f"/api/v1/sources/{name}", json={"enabled": False})
        if self.subscription_id is not None:
            with contextlib.suppress(Exception):
                await self.call("PATCH", f"/api/v1/subscriptions/{self.subscription_id}", json={"enabled": False})


def steps_for(seconds: float) -> int:
    return max(12, int(seconds * 6))


async def run_campaign(seeds: list[int], *, seconds: float, plant: str | None = None, pg_fault: str = "restart",
                       redis_db: int = 11, keep: bool = False, echo: Any = print) -> list[SeedResult]:  # fmt: skip
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the table
    results = []
    async with Stack(redis_db=redis_db, plant=plant, pg_fault=pg_fault, keep=keep) as stack:
        if stack.schema_gaps:
            echo(f"WARNING: migrations do not create {', '.join(stack.schema_gaps)}; created from the models")
        for seed in seeds:
            result = await SeedRun(stack, seed, steps_for(seconds)).run()
            results.append(result)
            state = "ok" if not result.violations else f"{len(result.violations)} VIOLATION(S)"
            echo(f"seed {seed}: {result.events} events, faults {dict(sorted(result.faults.items()))}, "
                 f"slowest recovery {result.slowest_recovery:.2f}s, {result.seconds:.1f}s: {state}")  # fmt: skip
            for v in result.violations:
                echo(f"  seed {seed} violation: {v}")
    return results
