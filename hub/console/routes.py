"""Console pages (GET) and operator actions (POST) under ``/console``.

Pages need the viewer role; approve / reject / retry / replay need operator and are refused by the guard
(403) for a viewer however they are called. Actions answer an HTML fragment that ``console.js`` swaps
into the page, or a full page when a form is posted without JavaScript.
"""

from __future__ import annotations

import json
from collections import defaultdict
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

import yaml
from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from hub.bootstrap import Hub
from hub.console import charts, masking, queries
from hub.console.auth import (
    OPERATOR,
    PUBLIC_OPT,
    SESSION_COOKIE,
    VIEWER,
    audit,
    cookie_options,
    create_session,
    current_principal,
    end_session,
    login,
)
from hub.console.i18n import LANGS, pick_lang, translator
from hub.console.render import BASE, STATIC, node_url, page
from hub.domain.errors import HubError, InvalidRequest, NotFound
from hub.security import throttle
from hub.semantics import semantics
from hub.services import arbitration, ledger, pipeline
from hub.services import observations as obs_store
from hub.services import views as view_service
from hub.services.uow import UnitOfWork
from hub.sync import engine as sync_engine
from hub.storage.models import DecisionRow, LineageNode, MovementRow, ObservationRow, RawEvent, ViewValue, utcnow
from semantic_layer import cube
from semantic_layer.stock_types import StockType

AnyRequest = Request[Any, Any, Any]
SYNC_TABLE_WORDS = ("deliver", "subscription", "dead_letter", "outbound")
VOUCHER_TABLE_WORDS = ("voucher", "reconcil")


def _hub(request: AnyRequest) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _same_origin(request: AnyRequest) -> None:
    """Refuse a cross-site form post (the session cookie is SameSite=Lax; this is the second lock)."""
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site" or (
        origin and origin != "null" and urlparse(origin).netloc != request.headers.get("host", "")
    ):
        raise PermissionDeniedException("cross-site request refused")


async def _form(request: AnyRequest) -> dict[str, str]:
    _same_origin(request)
    data = await request.form()
    return {k: str(v) for k, v in data.items()}


def _snapshot(row: Any) -> SimpleNamespace:
    """A plain copy of a row's columns, readable after its session committed or closed."""
    return SimpleNamespace(**{c.key: getattr(row, c.key) for c in row.__table__.columns})


def _fragment(request: AnyRequest) -> bool:
    return request.headers.get("hx-request") == "true"


# ---------------------------------------------------------------- log-in, language


@get("/login", opt=PUBLIC_OPT, name="console-login", include_in_schema=False)
async def login_page(request: AnyRequest, next: str = BASE) -> Response[str]:
    return page(request, "login.html", next=_safe_next(next), failed=False)


@post("/login", opt=PUBLIC_OPT, include_in_schema=False, status_code=303)
async def login_submit(request: AnyRequest) -> Response[Any]:
    form = await _form(request)
    hub = _hub(request)
    username = form.get("username", "").strip()
    async with hub.sessionmaker() as session:
        wait = await throttle.seconds_locked(session, username)
        if wait:
            return _locked_out(request, form, wait)
        principal = await login(session, username, form.get("password", ""))
        if principal is None or principal.kind != "user":
            wait = await throttle.record_failure(session, username, throttle.Policy.of(hub.settings))
            if wait:
                await audit(session, None, "console.login_locked", username, detail=f"locked for {wait:.0f} s")
            await session.commit()
            if wait:
                return _locked_out(request, form, wait)
            return page(request, "login.html", status_code=401, next=_safe_next(form.get("next", BASE)), failed=True,
                        username=username)  # fmt: skip
        await throttle.record_success(session, username)
        value = await create_session(session, principal)
        await session.commit()
    response: Response[Any] = Redirect(_safe_next(form.get("next", BASE)), status_code=303)
    response.set_cookie(value=value, **cookie_options())  # type: ignore[arg-type]
    return response


def _locked_out(request: AnyRequest, form: dict[str, str], wait: float) -> Response[str]:
    response = page(request, "login.html", status_code=429, next=_safe_next(form.get("next", BASE)), failed=True,
                    locked=int(wait) + 1, username=form.get("username", ""))  # fmt: skip
    response.headers["Retry-After"] = str(int(wait) + 1)
    return response


@post("/logout", guards=VIEWER, include_in_schema=False, status_code=303)
async def logout(request: AnyRequest) -> Response[Any]:
    _same_origin(request)
    async with _hub(request).sessionmaker() as session:
        await end_session(session, request.cookies.get(SESSION_COOKIE))
        await session.commit()
    response: Response[Any] = Redirect(f"{BASE}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/lang/{lang:str}", opt=PUBLIC_OPT, include_in_schema=False, status_code=303)
async def set_lang(lang: str, next: str = BASE) -> Response[Any]:
    response: Response[Any] = Redirect(_safe_next(next), status_code=303)
    response.set_cookie("lang", lang if lang in LANGS else "en", path="/", max_age=365 * 86400, samesite="lax")
    return response


def _safe_next(target: str | None) -> str:
    """Only console paths: a log-in link must never redirect off-site."""
    if not target or not target.startswith(BASE) or target.startswith("//") or "\\" in target:
        return BASE
    return target


# ---------------------------------------------------------------- overview


@get("/", guards=VIEWER, include_in_schema=False)
async def overview(request: AnyRequest) -> Response[str]:
    now = utcnow()
    async with _hub(request).sessionmaker() as session:
        sources = await queries.sources_health(session, now=now)
        raw = await queries.raw_by_status(session)
        jobs = await queries.jobs_by_state(session)
        dead = await queries.jobs(session, "dead", limit=10)
        quarantined = await queries.quarantine_count(session)
        push_stats = await queries.push_stats(session)
    total = [0] * queries.SPARK_MINUTES
    for s in sources:
        counts = charts.per_minute(s["moments"], end=now, minutes=queries.SPARK_MINUTES)
        s["spark"] = charts.sparkline(counts, title=f"{s['name']}: {sum(counts)} in the last hour")
        total = [a + b for a, b in zip(total, counts, strict=True)]
    return page(request, "overview.html", nav="overview", sources=sources, raw=raw, jobs=jobs, dead=dead,
                quarantined=quarantined, total_spark=charts.sparkline(total, width=240, height=36), push=push_stats,
                total_events=sum(raw.values()), total_hour=sum(total))  # fmt: skip


# ---------------------------------------------------------------- SKU explorer


@get("/sku", guards=VIEWER, include_in_schema=False)
async def sku_page(request: AnyRequest, q: str = "", grain: str = "realtime") -> Response[str]:
    q = q.strip()[:128]
    grain = grain if grain in cube.GRAINS else "realtime"
    if not q:
        return page(request, "sku.html", nav="sku", q="", matches=[], detail=None, grain=grain)
    async with _hub(request).sessionmaker() as session:
        matches = await queries.search_skus(session, q)
        first = matches[0] if matches else None
        sku = first[0] if first and (first[0] == q or len(matches) == 1 or first[1] != "sku") else None
        detail = await _sku_detail(session, sku, grain) if sku else None
    return page(request, "sku.html", nav="sku", q=q, matches=matches, detail=detail, grain=grain)


@get("/sku/cube", guards=VIEWER, include_in_schema=False)
async def sku_cube(request: AnyRequest, sku: str, grain: str = "realtime") -> Response[str]:
    grain = grain if grain in cube.GRAINS else "realtime"
    async with _hub(request).sessionmaker() as session:
        grid = await _cube_grid(session, sku, grain)
    return page(request, "_cube.html", sku=sku, grain=grain, grid=grid)


async def _sku_detail(session: Any, sku: str, grain: str) -> dict[str, Any]:
    sem = semantics()
    rows = await ledger.balances(session, sku)
    last = await queries.last_movement_per_account(session, sku, [b.account for b in rows])
    balances = [{"account": b.account, "qty": b.qty, "version": b.version, "updated_at": b.updated_at,
                 "node": f"movement:{last[b.account]}" if b.account in last else None} for b in rows]  # fmt: skip
    views = []
    for name, definition in sorted(sem.views.views.items()):
        result, _ = await view_service.evaluate(session, definition, sku)
        latest = await view_service.latest_value(session, name, sku)
        value = str(result.value)
        recorded = latest is not None and latest.value == value
        views.append({"name": name, "version": definition.version, "formula": definition.formula.text, "value": value,
                      "inputs": {k: (str(v) if v is not None else None) for k, v in sorted(result.inputs.items())},
                      "missing": list(result.missing),
                      "node": f"view:{latest.id}" if recorded and latest else None})  # fmt: skip
    return {"sku": sku, "grid": await _cube_grid(session, sku, grain), "balances": balances, "views": views,
            "movements": await queries.recent_movements(session, sku),
            "reservations": await queries.reservations_of(session, sku)}  # fmt: skip


def _type_order(stock_type: str) -> tuple[int, str]:
    order = [t.value for t in StockType]
    return (order.index(stock_type), stock_type) if stock_type in order else (len(order), stock_type)


async def _cube_grid(session: Any, sku: str, grain: str) -> dict[str, Any]:
    """Sources × stock types with the latest claim per location; disagreeing canonical claims about the
    same stock type and location are flagged; at hour/day grain each cell carries a small chart."""
    latest = await obs_store.latest_cells(session, sku)
    groups: dict[tuple[str, str], set[int]] = defaultdict(set)
    for r in latest:
        if r.canonical:
            groups[(r.stock_type, r.location)].add(r.quantity)
    conflicts = {k for k, values in groups.items() if len(values) > 1}
    series: dict[tuple[str, str, str], list[tuple[Any, float]]] = defaultdict(list)
    if grain != "realtime":
        history = await obs_store.history(session, sku)
        for p in cube.query([obs_store.to_observation(r) for r in history], grain=grain, sku=sku):  # type: ignore[arg-type]
            series[(p.cell.source, p.cell.stock_type, p.cell.location)].append((p.bucket, p.value))
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in latest:
        points = series.get((r.source, r.stock_type, r.location), [])
        cells[(r.source, r.stock_type)].append({
            "location": r.location, "quantity": r.quantity, "node": f"observation:{r.id}", "observed_at": r.observed_at,
            "canonical": r.canonical, "conflict": (r.stock_type, r.location) in conflicts,
            "chart": charts.step_chart(points, title=f"{r.source} {r.stock_type}@{r.location}") if points else "",
            "points": len(points)})  # fmt: skip
    sources = sorted({r.source for r in latest})
    types = sorted({r.stock_type for r in latest}, key=_type_order)
    return {"sources": sources, "types": types, "cells": cells, "conflicts": sorted(conflicts)}


# ---------------------------------------------------------------- lineage


@get("/lineage", guards=VIEWER, include_in_schema=False)
async def lineage_page(request: AnyRequest, node: str = "") -> Response[str]:
    from hub import lineage

    node = node.strip()[:250]
    if not node:
        return page(request, "lineage.html", nav="lineage", node="", chain=None)
    async with _hub(request).sessionmaker() as session:
        chain = await lineage.walk(session, node)
    parents: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    for e in chain["upstream_edges"] + chain["downstream_edges"]:
        if e["parent"] not in parents[e["child"]]:
            parents[e["child"]].append(e["parent"])
            children[e["parent"]].append(e["child"])
    up_levels: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in chain["upstream"]:
        up_levels[n["depth"]].append(n)
    down_levels: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for n in chain["downstream"]:
        down_levels[n["depth"]].append(n)
    return page(request, "lineage.html", nav="lineage", node=node, chain=chain, parents=parents, children=children,
                up=[(d, up_levels[d]) for d in sorted(up_levels, reverse=True)],
                down=[(d, down_levels[d]) for d in sorted(down_levels)])  # fmt: skip


@get("/node", guards=VIEWER, include_in_schema=False)
async def node_detail(request: AnyRequest, id: str) -> Response[str]:
    kind, _, ref = id.partition(":")
    sem = semantics()
    values: dict[str, Any] = {"id": id, "kind": kind}
    async with _hub(request).sessionmaker() as session:
        node = await session.get(LineageNode, id)
        values["node"] = node
        if kind == "raw" and ref.isdigit():
            raw = await session.get(RawEvent, int(ref))
            if raw is None:
                raise NotFound(f"no raw event {ref}")
            body_kind, body = masking.pretty_body(raw.body)
            values.update(raw=raw, headers=masking.mask_headers(raw.headers), body=body, body_kind=body_kind)
        elif kind == "observation" and ref.isdigit():
            obs = await session.get(ObservationRow, int(ref))
            if obs is None:
                raise NotFound(f"no observation {ref}")
            values.update(obs=obs, rule=_mapping_rule(sem, obs.rule_id, obs.rule_version))
            try:
                meaning = sem.dictionary.meaning(obs.source, obs.field or obs.stock_type)
            except Exception:  # noqa: BLE001 - a source missing from the dictionary is shown as such
                meaning = None
            values["meaning"] = meaning
        elif kind == "decision" and ref.isdigit():
            decision = await session.get(DecisionRow, int(ref))
            if decision is None:
                raise NotFound(f"no decision {ref}")
            values["decision"] = decision
        elif kind == "movement" and ref.isdigit():
            movement = await session.get(MovementRow, int(ref))
            if movement is None:
                raise NotFound(f"no movement {ref}")
            values["movement"] = movement
        elif kind == "view" and ref.isdigit():
            view = await session.get(ViewValue, int(ref))
            if view is None:
                raise NotFound(f"no view value {ref}")
            definition = sem.views.views.get(view.view)
            values.update(view=view, formula=definition.formula.text if definition else "")
        elif kind == "rule" and ref.startswith("arbitration:"):
            values["yaml"] = _read_text(sem.rules.path)
        elif kind == "rule":
            rule_id, _, version = ref.partition("@")
            values["rule"] = _mapping_rule(sem, rule_id, version)
        else:
            values["row"] = await _generic_row(session, kind, ref)
    if values["node"] is None and len(values) <= 3:
        raise NotFound(f"no lineage node {id!r}")
    return page(request, "_node.html", **values)


def _mapping_rule(sem: Any, rule_id: str, full_version: str) -> dict[str, Any] | None:
    if not rule_id:
        return None
    file_version = full_version.partition("#")[0]
    try:
        rule = sem.mappings.rule(rule_id, file_version or None)
    except Exception:  # noqa: BLE001 - a rule since removed: show what the observation recorded
        return {"id": rule_id, "version": full_version, "missing": True}
    return {"id": rule.id, "version": rule.full_version, "file": rule.file, "topics": list(rule.topics),
            "description": rule.description, "source": rule.source, "missing": False,
            "yaml": _rule_yaml(rule.file, rule.id)}  # fmt: skip


def _rule_yaml(path: str, rule_id: str) -> str:
    try:
        doc = yaml.safe_load(_read_text(path))
        for r in doc.get("rules", []):
            if r.get("id") == rule_id:
                return yaml.safe_dump(r, allow_unicode=True, sort_keys=False)
    except Exception:  # noqa: BLE001 - display only
        pass
    return ""


def _read_text(path: str | None) -> str:
    from pathlib import Path

    try:
        return Path(path or "").read_text(encoding="utf-8") if path else ""
    except OSError:
        return ""


async def _generic_row(session: Any, kind: str, ref: str) -> dict[str, Any] | None:
    """Records of tables other helpers own (pushes, vouchers, deliveries…): the row, if its table exists."""
    if not ref.isdigit():
        return None
    names = await queries.table_names(session)
    for table in (f"{kind}s", f"{kind}es", kind):
        if table in names:
            _, rows = await queries.table_rows(session, table, limit=1, where={"id": int(ref)})
            return rows[0] if rows else None
    return None


# ---------------------------------------------------------------- conflicts & quarantine


@get("/conflicts", guards=VIEWER, include_in_schema=False)
async def conflicts_page(request: AnyRequest) -> Response[str]:
    async with _hub(request).sessionmaker() as session:
        pending = await queries.decisions(session, pending=True)
        recent = await queries.decisions(session, pending=False, limit=20)
        ledger_now = {d.id: await arbitration.ledger_value(session, d.sku, d.location, d.stock_type) for d in pending}
    return page(request, "conflicts.html", nav="conflicts", pending=pending, recent=recent, ledger_now=ledger_now)


@post("/decisions/{decision_id:int}/{action:str}", guards=OPERATOR, include_in_schema=False, status_code=200)
async def resolve_decision(request: AnyRequest, decision_id: int, action: str) -> Response[str]:
    if action not in ("approve", "reject"):
        raise NotFound(f"no action {action!r}; approve or reject")
    form = await _form(request)
    reason = form.get("reason", "").strip()
    if not reason:
        raise InvalidRequest("a reason is required to approve or reject a quarantined claim")
    principal = current_principal(request)
    hub = _hub(request)
    async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
        s = uow.session
        row = await s.get(DecisionRow, decision_id)
        if row is None:
            raise NotFound(f"no decision {decision_id}")
        before = await arbitration.ledger_value(s, row.sku, row.location, row.stock_type)
        by = principal.name if principal else "console"
        row = await arbitration.resolve(s, decision_id, approve=action == "approve", by=by, reason=reason[:2000],
                                        guarded_buckets=hub.settings.guarded_buckets)
        after = await arbitration.ledger_value(s, row.sku, row.location, row.stock_type)
        await view_service.recompute(s, semantics(), row.sku)
        await audit(s, principal, f"decision.{action}", f"decision:{decision_id}", before={"ledger": before},
                    after={"ledger": after, "status": row.status, "movement_id": row.movement_id}, detail=reason,
                    request=request)  # fmt: skip
        decided = _snapshot(row)
        await uow.commit()
        balances = [_snapshot(b) for b in await ledger.balances(s, decided.sku)]
    values = {"d": decided, "before": before, "after": after, "balances": balances}
    if _fragment(request):
        return page(request, "_resolved.html", **values)
    return page(request, "resolved.html", nav="conflicts", **values)


# ---------------------------------------------------------------- sync & deliveries, vouchers


@get("/sync", guards=VIEWER, include_in_schema=False)
async def sync_page(request: AnyRequest) -> Response[str]:
    async with _hub(request).sessionmaker() as session:
        dead = await queries.jobs(session, "dead")
        pending = await queries.jobs(session, "pending")
        dead_pushes = await queries.pushes(session, status="dead")
        recent_pushes = await queries.pushes(session, limit=30)
        tables = await _tables_like(session, SYNC_TABLE_WORDS)
    return page(request, "sync.html", nav="sync", dead=dead, pending=pending, tables=tables,
                dead_pushes=dead_pushes, recent_pushes=recent_pushes)  # fmt: skip


@post("/pushes/{push_id:int}/retry", guards=OPERATOR, include_in_schema=False, status_code=200)
async def retry_push(request: AnyRequest, push_id: int) -> Response[str]:
    """Re-push a dead-lettered listing; the job reads the latest target when it runs."""
    _same_origin(request)
    hub = _hub(request)
    async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
        await sync_engine.retry_dead(uow.session, push_id)
        await audit(uow.session, current_principal(request), "push.retry", f"push:{push_id}",
                    before={"status": "dead"}, after={"status": "retried"}, request=request)  # fmt: skip
        await uow.commit()
    if _fragment(request):
        return page(request, "_push_retried.html", push_id=push_id)
    return Redirect(f"{BASE}/sync", status_code=303)  # type: ignore[return-value]


@get("/vouchers", guards=VIEWER, include_in_schema=False)
async def vouchers_page(request: AnyRequest) -> Response[str]:
    async with _hub(request).sessionmaker() as session:
        tables = await _tables_like(session, VOUCHER_TABLE_WORDS)
    return page(request, "vouchers.html", nav="vouchers", tables=tables)


async def _tables_like(session: Any, words: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for name in sorted(await queries.table_names(session)):
        if any(w in name for w in words) and not name.startswith("alembic"):
            columns, rows = await queries.table_rows(session, name)
            out.append({"name": name, "columns": columns, "rows": rows})
    return out


@post("/jobs/{job_id:int}/retry", guards=OPERATOR, include_in_schema=False, status_code=200)
async def retry_job(request: AnyRequest, job_id: int) -> Response[str]:
    _same_origin(request)
    principal = current_principal(request)
    hub = _hub(request)
    async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
        job = await queries.retry_job(uow.session, job_id)
        await audit(uow.session, principal, "job.retry", f"job:{job_id}", before={"state": "dead"},
                    after={"state": job.state}, detail=job.last_error or "", request=request)  # fmt: skip
        job = _snapshot(job)
        await uow.commit()
    await hub.queue.kick([job_id])
    if _fragment(request):
        return page(request, "_retried.html", job=job)
    return Redirect(f"{BASE}/sync", status_code=303)  # type: ignore[return-value]


@post("/raw/{raw_id:int}/replay", guards=OPERATOR, include_in_schema=False, status_code=200)
async def replay_raw(request: AnyRequest, raw_id: int) -> Response[str]:
    """Run the pipeline again for a stored event (idempotent: only what is new is written)."""
    _same_origin(request)
    principal = current_principal(request)
    hub = _hub(request)
    async with UnitOfWork(hub.sessionmaker, hub.queue) as uow:
        outcome = await pipeline.process(uow.session, semantics(), raw_id, guarded_buckets=hub.settings.guarded_buckets,
                                         default_location=hub.settings.default_location, replay=True)  # fmt: skip
        if outcome.status == "missing":
            raise NotFound(f"no raw event {raw_id}")
        await audit(uow.session, principal, "raw.replay", f"raw:{raw_id}", after={"status": outcome.status},
                    request=request)  # fmt: skip
        await uow.commit()
    return page(request, "_replayed.html", raw_id=raw_id, outcome=outcome)


# ---------------------------------------------------------------- rules


@get("/rules", guards=VIEWER, include_in_schema=False)
async def rules_page(request: AnyRequest) -> Response[str]:
    sem = semantics()
    mappings = []
    for connector in sorted(sem.mappings.files):
        for version in sem.mappings.versions(connector):
            f = sem.mappings.files[connector][version]
            mappings.append({"connector": connector, "version": version, "path": f.path, "source": f.source,
                             "rules": [{"id": r.id, "version": r.full_version, "topics": list(r.topics),
                                        "description": r.description} for r in f.rules],
                             "yaml": _read_text(f.path)})  # fmt: skip
    dictionary = [sem.dictionary.sources[n] for n in sorted(sem.dictionary.sources)]
    views = [sem.views.views[n] for n in sorted(sem.views.views)]
    return page(request, "rules.html", nav="rules", mappings=mappings, dictionary=dictionary, views=views,
                arbitration=sem.rules, arbitration_yaml=_read_text(sem.rules.path),
                connectors=sorted(sem.mappings.files))  # fmt: skip


@post("/rules/dry-run", guards=VIEWER, include_in_schema=False, status_code=200)
async def dry_run(request: AnyRequest) -> Response[str]:
    """What the mappings would emit for a pasted payload; nothing is stored."""
    form = await _form(request)
    sem = semantics()
    connector, topic = form.get("connector", "").strip(), form.get("topic", "").strip()
    if connector not in sem.mappings.files:
        raise InvalidRequest(f"unknown connector {connector!r}; one of {', '.join(sorted(sem.mappings.files))}")
    try:
        payload = json.loads(form.get("payload", ""))
    except ValueError as exc:
        raise InvalidRequest(f"payload is not JSON: {exc}") from None
    result = sem.mappings.apply(connector, topic, payload, raw_event_id=None, received_at=utcnow(),
                                source=form.get("source", "").strip() or None)  # fmt: skip
    canonical, failed = sem.dictionary.canonicalize(result.observations) if result.observations else ([], [])
    return page(request, "_dryrun.html", result=result, canonical=canonical, failed=failed)


# ---------------------------------------------------------------- errors


def _error(request: AnyRequest, status: int, message: str) -> Response[str]:
    t = translator(pick_lang(request.cookies.get("lang")))
    if status == 403:
        message = f"{t('error.forbidden')} {message}"
    template = "_error.html" if _fragment(request) or request.method != "GET" else "error.html"
    return page(request, template, status_code=status, status=status, message=message)


def _on_unauthorized(request: AnyRequest, exc: NotAuthorizedException) -> Response[Any]:
    if request.method == "GET" and not _fragment(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return Redirect(f"{BASE}/login?next={quote(target, safe='/')}", status_code=303)
    return _error(request, 401, str(exc.detail))


def _on_http(request: AnyRequest, exc: HTTPException) -> Response[str]:
    return _error(request, exc.status_code, str(exc.detail))


def _on_hub(request: AnyRequest, exc: HubError) -> Response[str]:
    return _error(request, exc.status_code, exc.detail)


def console_router() -> Router:
    """Everything under ``/console``: pages, actions and the console's own static files."""
    static = create_static_files_router(path="/static", directories=[STATIC], opt=dict(PUBLIC_OPT),
                                        include_in_schema=False, name="console-static")  # fmt: skip
    handlers = [login_page, login_submit, logout, set_lang, overview, sku_page, sku_cube, lineage_page, node_detail,
                conflicts_page, resolve_decision, sync_page, vouchers_page, retry_job, retry_push, replay_raw, rules_page,
                dry_run, static]  # fmt: skip
    return Router(
        path=BASE,
        route_handlers=handlers,
        include_in_schema=False,
        exception_handlers={401: _on_unauthorized, HTTPException: _on_http, HubError: _on_hub},  # type: ignore[dict-item]
    )


__all__ = ["console_router", "node_url"]
