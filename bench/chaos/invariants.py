"""Invariants, read straight from the database and the sandboxes and compared with the model.

Cheap ones run after every step (per-sku sums zero, no free balance below zero now or ever); the full
set runs once the seed has quiesced (nothing pending, nothing running). Each violation is one line
that names the invariant, the record and the figures, so a replayed seed can be compared line by line.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx

from bench.chaos.stack import DB_DOWN
from bench.chaos.workload import CHANNELS, nonzero

if TYPE_CHECKING:
    from bench.chaos.campaign import SeedRun
    from bench.chaos.stack import Stack

NOT_PERIODIC = "job_key NOT LIKE 'periodic:%'"
UNSCANNED = ("SELECT count(*) FROM movements WHERE id > (SELECT coalesce(max(last_id), 0) FROM voucher_cursor) "
             "AND NOT EXISTS (SELECT 1 FROM voucher_cursor WHERE blocked_movement_id IS NOT NULL)")
"""Movements the voucher scan (periodic, every 2 s) has not reached yet; a blocked scan is reported by check."""


async def marks(stack: Stack) -> tuple[int, int]:
    """The newest job and raw event ids now: the work outstanding at a kill."""
    conn = await stack.db()
    try:
        job = await conn.fetchval("SELECT coalesce(max(id), 0) FROM jobs")
        raw = await conn.fetchval("SELECT coalesce(max(id), 0) FROM raw_events")
        return int(job), int(raw)
    finally:
        await conn.close()


async def drained(stack: Stack, mark: tuple[int, int], *, since: float, cap: float) -> float:
    """Seconds from ``since`` until every job and raw event that existed at ``mark`` is finished."""
    job, raw = mark
    while time.monotonic() - since < cap:
        try:
            conn = await stack.db()
            try:
                left = await conn.fetchval(
                    "SELECT (SELECT count(*) FROM jobs WHERE id <= $1 AND state IN ('pending', 'running')) + "
                    "(SELECT count(*) FROM raw_events WHERE id <= $2 AND status = 'pending')", job, raw)  # fmt: skip
            finally:
                await conn.close()
            if left == 0:
                return time.monotonic() - since
        except DB_DOWN:
            pass
        await asyncio.sleep(0.1)
    return cap


async def cheap(run: SeedRun) -> list[str]:
    """After every step: each sku sums to zero, no free balance is (or ever was) below zero."""
    try:
        conn = await asyncio.wait_for(run.stack.db(), 3)
    except DB_DOWN:
        return []  # the database is restarting: checked at the next step
    try:
        rows = await conn.fetch("SELECT sku, sum(qty) AS total, min(CASE WHEN account LIKE '%/free' THEN qty END) "
                                "AS free FROM balances WHERE sku = ANY($1) GROUP BY sku", run.skus)  # fmt: skip
        negative = await conn.fetch("SELECT sku, account, qty FROM chaos_negative WHERE sku = ANY($1)", run.skus)
    except DB_DOWN:
        return []
    finally:
        await conn.close()
    out = [f"sum not zero: {r['sku']} sums to {r['total']}" for r in rows if r["total"] != 0]
    out += [f"free below zero now: {r['sku']} {r['free']}" for r in rows if r["free"] is not None and r["free"] < 0]
    seen = run.__dict__.setdefault("_negatives_seen", set())
    for r in negative:
        if (r["sku"], r["account"], r["qty"]) not in seen:
            seen.add((r["sku"], r["account"], r["qty"]))
            out.append(f"guarded bucket went negative: {r['sku']} {r['account']} = {r['qty']}")
    return out


async def quiesce(run: SeedRun, timeout: float) -> str | None:
    """Wait until no raw event is pending and no (non-periodic) job is pending or running, twice in a row."""
    deadline = time.monotonic() + timeout
    calm = 0
    last: Any = None
    while time.monotonic() < deadline:
        try:
            conn = await run.stack.db()
            try:
                last = await conn.fetchrow(
                    f"SELECT (SELECT count(*) FROM raw_events WHERE status = 'pending') AS raw, "
                    f"(SELECT count(*) FROM jobs WHERE state IN ('pending', 'running') AND {NOT_PERIODIC}) AS jobs, "
                    f"({UNSCANNED}) AS unscanned")
            finally:
                await conn.close()
            calm = calm + 1 if last["raw"] == 0 and last["jobs"] == 0 and last["unscanned"] == 0 \
                and not run.background and not await run.wms_busy() else 0
            if calm >= 3:
                return None
        except (*DB_DOWN, httpx.HTTPError):
            calm = 0
        await asyncio.sleep(0.2)
    return f"did not quiesce within {timeout:.0f}s: {dict(last) if last else 'database unreachable'}"


async def check(run: SeedRun) -> list[str]:
    """Every invariant after quiescence; [] when the run kept every promise."""
    out: list[str] = []
    conn = await run.stack.db()
    try:
        out += await _events_once(conn, run)
        out += await _ledger(conn, run)
        out += await _jobs(conn)
        out += await _lineage(conn, run)
        out += await _vouchers(conn, run)
        out += await _outbound(conn, run)
    finally:
        await conn.close()
    out += await _channels(run)
    out += await _wms(run)
    out += await cheap(run)
    return out


async def _events_once(conn: asyncpg.Connection, run: SeedRun) -> list[str]:
    out = []
    sources = list(run.sources.values())
    rows = await conn.fetch("SELECT source, platform_event_id, status, count(*) OVER (PARTITION BY source, "
                            "platform_event_id) AS n FROM raw_events WHERE source = ANY($1)", sources)  # fmt: skip
    stored = {(r["source"], r["platform_event_id"]): r for r in rows}
    acked: set[tuple[str, str]] = set()
    for cap in run.relay.captures:
        for event_id in cap.event_ids:
            if cap.acked:
                acked.add((cap.source, event_id))
            elif (cap.source, event_id) not in stored:
                out.append(f"push never acknowledged: {cap.source} {event_id} after {cap.deliveries} deliveries "
                           f"{cap.refused}".rstrip())  # fmt: skip
    for key in sorted(acked):
        row = stored.get(key)
        if row is None:
            out.append(f"acknowledged event lost: {key[0]} {key[1]}")
        elif row["n"] != 1:
            out.append(f"event stored {row['n']} times: {key[0]} {key[1]}")
    derived = {k for k in stored if ":detail" in k[1] or k[1].startswith("refused:")}
    for key in sorted(set(stored) - acked - derived):
        out.append(f"raw event no platform sent: {key[0]} {key[1]}")
    for key, row in sorted(stored.items()):
        if row["status"] == "pending":
            out.append(f"raw event never processed: {key[0]} {key[1]}")
        elif row["status"] == "failed" or (row["status"] == "refused" and not key[1].startswith("refused:")):
            out.append(f"raw event {row['status']}: {key[0]} {key[1]}")
    # refusals: exactly the stale (clock-shifted) Shopify pushes, each answered 401 and recorded as stale
    refused = await conn.fetch("SELECT source, verification FROM raw_events WHERE source = ANY($1) AND status = 'refused'",
                               sources)  # fmt: skip
    want = sum(1 for _, status in run.stale if status == 401)
    if [s for _, s in run.stale if s != 401]:
        out.append(f"stale pushes not refused with 401: {run.stale}")
    shop = run.sources["shopify"]
    stale_rows = [r for r in refused if r["source"] == shop and "Triggered-At" in (r["verification"] or "")]
    if len(stale_rows) != want:
        out.append(f"stale pushes refused {want} times but {len(stale_rows)} refusals recorded for {shop}")
    for r in refused:
        if r not in stale_rows:
            out.append(f"unexpected refusal recorded: {r['source']}: {(r['verification'] or '')[:160]}")
    return out


async def _ledger(conn: asyncpg.Connection, run: SeedRun) -> list[str]:
    out = []
    balances = await conn.fetch("SELECT sku, account, qty FROM balances WHERE sku = ANY($1)", run.skus)
    moved = await conn.fetch(
        "SELECT sku, account, sum(delta) AS qty FROM (SELECT sku, to_account AS account, qty AS delta FROM movements "
        "WHERE sku = ANY($1) UNION ALL SELECT sku, from_account, -qty FROM movements WHERE sku = ANY($1)) m "
        "GROUP BY sku, account", run.skus)  # fmt: skip
    for sku in run.skus:
        held = nonzero({r["account"]: int(r["qty"]) for r in balances if r["sku"] == sku})
        history = nonzero({r["account"]: int(r["qty"]) for r in moved if r["sku"] == sku})
        want = run.model.balances(sku)
        for account in sorted(set(held) | set(want)):
            if held.get(account, 0) != want.get(account, 0):
                out.append(f"ledger differs from model: {sku} {account}: hub {held.get(account, 0)}, "
                           f"model {want.get(account, 0)}")  # fmt: skip
        if held != history:
            out.append(f"balances differ from movement history: {sku} {held} vs {history}")
    return out


async def _jobs(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(f"SELECT id, name, job_key, state, attempts, last_error FROM jobs WHERE state = 'dead' "
                            f"OR (state IN ('pending', 'running') AND {NOT_PERIODIC}) ORDER BY id LIMIT 20")  # fmt: skip
    return [f"job left {r['state']}: {r['name']} {r['job_key']} after {r['attempts']} attempts: "
            f"{(r['last_error'] or '')[:160]}" for r in rows]  # fmt: skip


async def _lineage(conn: asyncpg.Connection, run: SeedRun) -> list[str]:
    """Every order movement reaches the raw event that caused it; every final push reaches a movement."""
    out = []
    walk = """WITH RECURSIVE up(id) AS (SELECT $1::text UNION SELECT e.parent FROM lineage_edges e JOIN up ON e.child = up.id)
              SELECT array_agg(n.kind) FROM up JOIN lineage_nodes n ON n.id = up.id"""
    moves = await conn.fetch("SELECT id, key, kind FROM movements WHERE sku = ANY($1) AND kind <> 'receive'", run.skus)
    for m in moves:
        kinds = await conn.fetchval(walk, f"movement:{m['id']}") or []
        if "raw_event" not in kinds:
            out.append(f"lineage of movement {m['id']} ({m['kind']} {m['key']}) does not reach a raw event")
    pushes = await conn.fetch("SELECT DISTINCT ON (source, sku) id, source, sku, caused_by FROM pushes WHERE source = ANY($1) "
                              "AND status = 'ok' ORDER BY source, sku, id DESC", list(run.sources.values()))  # fmt: skip
    for p in pushes:
        kinds = await conn.fetchval(walk, f"push:{p['id']}") or []
        if "movement" not in kinds:
            out.append(f"lineage of final push {p['id']} ({p['source']} {p['sku']}) reaches no movement: "
                       f"{kinds}, caused by {p['caused_by']!r}")
    return out


async def _channels(run: SeedRun) -> list[str]:
    """Each sandbox shows its publish rule applied to the model's ledger; the hub's /listings agrees."""
    out = []
    for channel in CHANNELS:
        shown = await run.channel_stock(channel)
        r = await run.call("GET", "/api/v1/listings", params={"source": run.sources[channel]})
        listed = {row["sku"]: row["target"] for row in r.json()} if r.status_code == 200 else {}
        for sku in run.skus:
            want = run.model.target(channel, sku)
            if shown[sku] != want:
                out.append(f"channel stock differs: {channel} {sku} shows {shown[sku]}, rule on model gives {want}")
            if listed.get(sku) != want:
                out.append(f"hub target differs: {channel} {sku} /listings says {listed.get(sku)}, model {want}")
    return out


async def _wms(run: SeedRun) -> list[str]:
    """The WMS's shelves hold what the model says arrived minus what the WMS shipped (so a snapshot finds
    nothing to adjust), and every delivery order the hub sent it was settled (shipped or cancelled)."""
    out = []
    async with httpx.AsyncClient(timeout=10) as sb:
        state = (await sb.get(f"{run.wms_url}/_sandbox/stock")).json()
    shelves: Counter[str] = Counter()
    for row in state["stock"]:
        if row.get("inventoryType", "ZP") == "ZP":
            shelves[str(row["itemCode"])] += int(row["quantity"])
    for sku in run.skus:
        want = run.model.received.get(sku, 0) - run.model.gone(sku)
        if shelves[sku] != want:
            out.append(f"WMS stock differs from model: {sku} {shelves[sku]} on the shelves, model {want}")
    out += [f"WMS delivery order {o['code']} left {o['status']}" for o in state["orders"]
            if o["kind"] == "delivery" and o["status"] not in ("CONFIRMED", "CANCELED")]  # fmt: skip
    run.result.checked["WMS delivery orders (checked in the WMS)"] += sum(1 for o in state["orders"] if o["kind"] == "delivery")
    return out


async def _vouchers(conn: asyncpg.Connection, run: SeedRun) -> list[str]:
    """Every voucher the hub posted to this seed's ERP is in the ERP exactly once (by our voucher key), balanced
    there and in the hub; the ERP holds nothing the hub did not post; the scan is not blocked."""
    out = []
    blocked = await conn.fetch("SELECT name, blocked_movement_id, error FROM voucher_cursor WHERE blocked_movement_id IS NOT NULL")
    out += [f"voucher scan blocked at movement {r['blocked_movement_id']}: {(r['error'] or '')[:160]}" for r in blocked]
    rows = await conn.fetch("SELECT p.status, p.error, v.id, v.key FROM voucher_postings p JOIN vouchers v ON v.id = p.voucher_id "
                            "WHERE p.erp = $1", run.erp)  # fmt: skip
    lines = await conn.fetch("SELECT voucher_id, debit, credit FROM voucher_lines WHERE voucher_id = ANY($1)",
                             [r["id"] for r in rows])  # fmt: skip
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for ln in lines:
        sums[ln["voucher_id"]][0] += Decimal(ln["debit"] or 0)
        sums[ln["voucher_id"]][1] += Decimal(ln["credit"] or 0)
    async with httpx.AsyncClient(timeout=10) as sb:
        erp = (await sb.get(f"{run.erp_url}/_sandbox/vouchers")).json()
    in_erp: Counter[str] = Counter()
    for v in erp:
        entries = v.get("Entity") or []
        key = str(entries[0].get("EXPLANATION", "")).split(" ", 1)[0] if entries else ""
        in_erp[key] += 1
        debit, credit = (sum(Decimal(str(e.get(k, 0))) for e in entries) for k in ("DEBIT", "CREDIT"))
        if debit != credit or debit <= 0:
            out.append(f"voucher unbalanced in the ERP: {key} debit {debit} credit {credit}")
    posted = set()
    for r in rows:
        debit, credit = sums[r["id"]]
        if debit != credit or debit <= 0:
            out.append(f"voucher unbalanced in the hub: {r['key']} debit {debit} credit {credit}")
        if r["status"] != "posted":
            out.append(f"voucher {r['key']} to {run.erp} left {r['status']}: {(r['error'] or '')[:160]}")
            continue
        posted.add(r["key"])
        if in_erp[r["key"]] != 1:
            out.append(f"voucher {r['key']} is in the ERP {in_erp[r['key']]} times, not once")
    out += [f"voucher in the ERP the hub never posted there: {k} ({n}x)" for k, n in sorted(in_erp.items())
            if k not in posted and k not in {r["key"] for r in rows}]  # fmt: skip
    run.result.checked["vouchers posted (checked in the ERP)"] += len(posted)
    return out


async def _outbound(conn: asyncpg.Connection, run: SeedRun) -> list[str]:
    """Every outbound delivery to this seed's subscriber arrived at least once, under one stable id per event."""
    if run.subscription_id is None:
        return ["no outbound subscription was registered"]
    out = []
    rows = await conn.fetch("SELECT d.webhook_id, d.state, d.attempts, d.last_error, e.uid, e.type FROM webhook_deliveries d "
                            "JOIN outbound_events e ON e.id = d.event_id WHERE d.subscription_id = $1", run.subscription_id)  # fmt: skip
    seen = run.subscriber.seen()
    by_id: dict[str, set[str]] = defaultdict(set)
    by_uid: dict[str, set[str]] = defaultdict(set)
    ok_ids = set()
    for rec in seen:
        by_id[rec.webhook_id].add(rec.event_uid)
        by_uid[rec.event_uid].add(rec.webhook_id)
        if rec.status < 300:
            ok_ids.add(rec.webhook_id)
    for r in rows:
        if r["state"] != "delivered":
            out.append(f"outbound {r['type']} {r['webhook_id']} left {r['state']} after {r['attempts']} attempts: "
                       f"{(r['last_error'] or '')[:120]}")  # fmt: skip
        if r["webhook_id"] not in ok_ids:
            out.append(f"outbound {r['type']} {r['webhook_id']} never reached the subscriber")
        elif by_id[r["webhook_id"]] != {r["uid"]}:
            out.append(f"message id {r['webhook_id']} carried events {sorted(by_id[r['webhook_id']])}, not {r['uid']}")
    out += [f"event {uid} reached the subscriber under ids {sorted(ids)}" for uid, ids in by_uid.items() if len(ids) > 1]
    known = {r["webhook_id"] for r in rows}
    out += [f"subscriber got message {w} the hub has no delivery for" for w in sorted(set(by_id) - known)]
    run.result.checked["outbound webhook deliveries (checked at the subscriber)"] += len(rows)
    return out


__all__ = ["cheap", "check", "drained", "marks", "quiesce"]

