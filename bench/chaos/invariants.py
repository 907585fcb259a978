"""Invariants, read straight from the database and the sandboxes and compared with the model.

Cheap ones run after every step (per-sku sums zero, no free balance below zero now or ever); the full
set runs once the seed has quiesced (nothing pending, nothing running). Each violation is one line
that names the invariant, the record and the figures, so a replayed seed can be compared line by line.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import asyncpg


from bench.chaos.workload import CHANNELS, nonzero

if TYPE_CHECKING:
    from bench.chaos.campaign import SeedRun
    from bench.chaos.stack import Stack

NOT_PERIODIC = "job_key NOT LIKE 'periodic:%'"


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
        except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.1)
    return cap


async def cheap(run: SeedRun) -> list[str]:
    """After every step: each sku sums to zero, no free balance is (or ever was) below zero."""
    try:
        conn = await asyncio.wait_for(run.stack.db(), 3)
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        return []  # the database is restarting: checked at the next step
    try:
        rows = await conn.fetch("SELECT sku, sum(qty) AS total, min(CASE WHEN account LIKE '%/free' THEN qty END) "
                                "AS free FROM balances WHERE sku = ANY($1) GROUP BY sku", run.skus)  # fmt: skip
        negative = await conn.fetch("SELECT sku, account, qty FROM chaos_negative WHERE sku = ANY($1)", run.skus)
    except (OSError, asyncpg.PostgresError):
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
                    f"(SELECT count(*) FROM jobs WHERE state IN ('pending', 'running') AND {NOT_PERIODIC}) AS jobs")
            finally:
                await conn.close()
            calm = calm + 1 if last["raw"] == 0 and last["jobs"] == 0 and not run.background else 0
            if calm >= 3:
                return None
        except (OSError, asyncpg.PostgresError):
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
    finally:
        await conn.close()
    out += await _channels(run)
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
        elif row["status"] in ("failed", "refused"):
            out.append(f"raw event {row['status']}: {key[0]} {key[1]}")
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


__all__ = ["cheap", "check", "drained", "marks", "quiesce"]

