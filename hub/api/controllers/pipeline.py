"""Pipeline routes: raw events in, the cube, views, observations from people, sources, quarantine."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from msgspec import Meta
from sqlalchemy import select

from hub import inbox
from hub.api.deps import provide_hub, provide_uow
from hub.bootstrap import Hub
from hub.domain.errors import InvalidRequest, NotFound
from hub.semantics import semantics
from hub.services import arbitration
from hub.services import observations as obs_store
from hub.services import views as view_service
from hub.services.uow import UnitOfWork
from hub.storage.models import DecisionRow, RawEvent, Source
from semantic_layer import cube

MAX_ROWS = 10_000
SourceName = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9]*(_[A-Za-z0-9-]+)*$", max_length=100)]


class ObservationIn(msgspec.Struct, forbid_unknown_fields=True):
    sku: Annotated[str, Meta(min_length=1, max_length=128)]
    location: Annotated[str, Meta(min_length=1, max_length=64)]
    stock_type: str
    quantity: int
    counted_at: datetime | None = None


class ObservationBatchIn(msgspec.Struct, forbid_unknown_fields=True):
    source: SourceName
    rows: Annotated[list[ObservationIn], Meta(min_length=1, max_length=MAX_ROWS)]


class SourceIn(msgspec.Struct, forbid_unknown_fields=True):
    name: SourceName
    platform: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9]*$", max_length=40)]
    trust: Annotated[int, Meta(ge=0, le=100)] | None = None
    tolerance_units: Annotated[int, Meta(ge=0)] | None = None
    tolerance_percent: Annotated[int, Meta(ge=0, le=100)] | None = None
    default_location: str = ""
    base_url: Annotated[str, Meta(max_length=500)] = ""
    settings: dict[str, Any] = {}
    listings: dict[str, dict[str, Any]] = {}


class SourcePatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | None = None
    trust: Annotated[int, Meta(ge=0, le=100)] | None = None
    default_location: str | None = None
    base_url: Annotated[str, Meta(max_length=500)] | None = None
    settings: dict[str, Any] | None = None


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


def source_dict(s: Source) -> dict[str, Any]:
    return {"name": s.name, "platform": s.platform, "trust": s.trust, "tolerance_units": s.tolerance_units,
            "tolerance_percent": s.tolerance_percent, "enabled": s.enabled, "default_location": s.default_location,
            "base_url": s.base_url, "has_credentials": s.credentials is not None, "settings": s.settings,
            "listings": s.listings,
            "created_at": s.created_at.isoformat()}  # fmt: skip


def decision_dict(d: DecisionRow) -> dict[str, Any]:
    return {
        "id": d.id, "lineage_id": f"decision:{d.id}", "sku": d.sku, "location": d.location,
        "stock_type": d.stock_type, "outcome": d.outcome, "status": d.status, "value": d.value,
        "current_value": d.current_value, "chosen_source": d.chosen_source, "rule": d.rule_id,
        "rule_version": d.rule_version, "stage": d.stage, "reason": d.reason, "inputs": d.inputs,
        "resolved_by": d.resolved_by, "resolution": d.resolution, "movement_id": d.movement_id,
        "created_at": d.created_at.isoformat(),
    }  # fmt: skip


async def _ingest_manual(uow: UnitOfWork, source: str, rows: list[dict[str, Any]], origin: str) -> dict[str, Any]:
    body = json.dumps({"source": source, "rows": rows}, ensure_ascii=False, default=str).encode()
    stored = await inbox.store_and_enqueue(uow, source=source, platform_event_id=f"manual:{uuid.uuid4().hex}",
                                           topic="observations", body=body, headers={"origin": origin},
                                           verification="authenticated API call")  # fmt: skip
    await uow.commit()
    return {"raw_event_id": stored.raw_event_id, "lineage_id": f"raw:{stored.raw_event_id}", "rows": len(rows)}


class PipelineController(Controller):
    path = "/api/v1"
    tags = ["pipeline"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @post("/sources/{source:str}/events", status_code=202, summary="Ingest a raw platform payload into the inbox")
    async def ingest(self, source: str, request: Request, uow: UnitOfWork,
                     topic: Annotated[str, Parameter(header="x-zhongshu-topic", min_length=1)],
                     event_id: Annotated[str, Parameter(header="x-zhongshu-event-id", min_length=1, max_length=200)],
                     ) -> dict[str, Any]:  # fmt: skip
        """For trusted internal feeds and replays of captured payloads; platform webhooks use ``/webhooks``."""
        body = await request.body()
        try:
            json.loads(body)
        except ValueError as exc:
            raise InvalidRequest(f"body is not JSON: {exc}") from None
        stored = await inbox.store_and_enqueue(uow, source=source, platform_event_id=event_id, topic=topic,
                                               body=body, headers={"content-type": request.headers.get("content-type", "")},
                                               verification="authenticated API call")  # fmt: skip
        await uow.commit()
        return {"raw_event_id": stored.raw_event_id, "duplicate": stored.duplicate,
                "lineage_id": f"raw:{stored.raw_event_id}"}  # fmt: skip

    @get("/raw-events/{raw_id:int}", summary="A stored raw event with its processing status")
    async def raw_event(self, raw_id: int, hub: Hub) -> dict[str, Any]:
        async with hub.sessionmaker() as session:
            raw = await session.get(RawEvent, raw_id)
        if raw is None:
            raise NotFound(f"no raw event {raw_id}")
        return {"id": raw.id, "source": raw.source, "platform_event_id": raw.platform_event_id, "topic": raw.topic,
                "received_at": raw.received_at.isoformat(), "status": raw.status, "error": raw.error,
                "verified": raw.verified, "verification": raw.verification, "headers": raw.headers,
                "body": raw.body.decode("utf-8", "replace")}  # fmt: skip

    @post("/observations", status_code=202, summary="Hand-keyed figures under a named source")
    async def observations(self, data: ObservationBatchIn, uow: UnitOfWork) -> dict[str, Any]:
        rows = [msgspec.to_builtins(r) for r in data.rows]
        return await _ingest_manual(uow, data.source, rows, "api")

    @post("/observations/upload", status_code=202, summary="Upload a CSV or XLSX sheet of figures")
    async def upload(
        self, data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)], uow: UnitOfWork
    ) -> dict[str, Any]:
        """Columns: sku, location, stock_type, quantity, counted_at (optional); field ``source`` names the source."""
        source, upload = data.get("source"), data.get("file")
        if not isinstance(source, str) or not source:
            raise InvalidRequest("form field 'source' is required")
        try:  # the same source-name rule as the JSON route
            msgspec.convert({"source": source, "rows": [{"sku": "x", "location": "x", "stock_type": "x",
                                                         "quantity": 0}]}, ObservationBatchIn)  # fmt: skip
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"bad source name {source!r}: {exc}", field="source") from None
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("form field 'file' (a .csv or .xlsx file) is required")
        rows = _read_sheet(upload.filename or "", await upload.read())
        return await _ingest_manual(uow, source, rows, f"upload:{upload.filename}")

    @get("/cube", summary="The stock-state cube of a sku: source × stock type × time")
    async def get_cube(
        self, hub: Hub, sku: str, grain: Annotated[str, Parameter(pattern="^(realtime|hour|day)$")] = "realtime",
        start: Annotated[datetime | None, Parameter(query="from")] = None,
        end: Annotated[datetime | None, Parameter(query="to")] = None,
    ) -> dict[str, Any]:  # fmt: skip
        async with hub.sessionmaker() as session:
            if grain == "realtime":
                rows = await obs_store.latest_cells(session, sku, as_of=end)
                cells = [_cell(r) for r in rows]
                return {"sku": sku, "grain": grain, "cells": cells}
            rows = await obs_store.history(session, sku, start=None, end=end)
        points = cube.query([obs_store.to_observation(r) for r in rows], grain=grain, sku=sku, start=start, end=end)  # type: ignore[arg-type]
        return {"sku": sku, "grain": grain, "points": [
            {"source": p.cell.source, "location": p.cell.location, "stock_type": p.cell.stock_type,
             "bucket": p.bucket.isoformat(), "quantity": p.value} for p in points]}  # fmt: skip

    @get("/views/{name:str}", summary="A view's value for a sku, with the inputs it read")
    async def view(self, name: str, sku: str, hub: Hub) -> dict[str, Any]:
        sem = semantics()
        try:
            definition = sem.views.get(name)
        except (KeyError, ValueError):
            raise NotFound(f"no view {name!r}; known: {', '.join(sorted(sem.views.views))}") from None
        async with hub.sessionmaker() as session:
            latest = await view_service.latest_value(session, name, sku)
            result, _ = await view_service.evaluate(session, definition, sku)
        body: dict[str, Any] = {"view": name, "version": definition.version, "formula": definition.formula.text,
                                "sku": sku, "value": str(result.value),
                                "inputs": {k: (str(v) if v is not None else None) for k, v in result.inputs.items()},
                                "missing": list(result.missing)}  # fmt: skip
        if latest is not None and latest.value == body["value"]:
            body["lineage_id"] = f"view:{latest.id}"
            body["computed_at"] = latest.computed_at.isoformat()
        return body

    @get("/sources", summary="Source instances")
    async def list_sources(self, hub: Hub) -> list[dict[str, Any]]:
        async with hub.sessionmaker() as session:
            return [source_dict(s) for s in (await session.execute(select(Source).order_by(Source.name))).scalars()]

    @post("/sources", status_code=201, summary="Register a source instance (a shop, a warehouse, a manual source)")
    async def add_source(self, data: SourceIn, uow: UnitOfWork) -> dict[str, Any]:
        if await uow.session.get(Source, data.name) is not None:
            raise InvalidRequest(f"source {data.name!r} exists already", field="name")
        if data.base_url and not data.base_url.startswith(("http://", "https://")):
            raise InvalidRequest("base_url must be an http(s) URL", field="base_url")
        row = Source(**msgspec.to_builtins(data))
        uow.session.add(row)
        await uow.commit()
        return source_dict(row)

    @patch("/sources/{name:str}", summary="Change a source instance (enable/disable, trust, settings)")
    async def patch_source(self, name: str, data: SourcePatch, uow: UnitOfWork) -> dict[str, Any]:
        row = await uow.session.get(Source, name)
        if row is None:
            raise NotFound(f"no source {name!r}")
        for field, value in msgspec.structs.asdict(data).items():
            if value is not None:
                setattr(row, field, value)
        await uow.commit()
        return source_dict(row)

    @get("/decisions", summary="Arbitration decisions; status=pending is the quarantine queue")
    async def decisions(
        self, hub: Hub, status: str | None = None, sku: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(DecisionRow)
        if status:
            stmt = stmt.where(DecisionRow.status == status)
        if sku:
            stmt = stmt.where(DecisionRow.sku == sku)
        async with hub.sessionmaker() as session:
            rows = (await session.execute(stmt.order_by(DecisionRow.id.desc()).limit(limit))).scalars().all()
        return [decision_dict(d) for d in rows]

    @post("/decisions/{decision_id:int}/approve", status_code=200, summary="Apply a quarantined claim")
    async def approve(self, decision_id: int, data: ResolveIn, uow: UnitOfWork, hub: Hub, request: Request) -> dict[str, Any]:
        return await _resolve(uow, hub, request, decision_id, data, approve=True)

    @post("/decisions/{decision_id:int}/reject", status_code=200, summary="Refuse a quarantined claim, saying why")
    async def reject(self, decision_id: int, data: ResolveIn, uow: UnitOfWork, hub: Hub, request: Request) -> dict[str, Any]:
        return await _resolve(uow, hub, request, decision_id, data, approve=False)


async def _resolve(uow: UnitOfWork, hub: Hub, request: Request, decision_id: int, data: ResolveIn, *,
                   approve: bool) -> dict[str, Any]:  # fmt: skip
    user = getattr(request, "scope", {}).get("zhongshu_user", "api")
    row = await arbitration.resolve(uow.session, decision_id, approve=approve, by=str(user), reason=data.reason,
                                    guarded_buckets=hub.settings.guarded_buckets)  # fmt: skip
    await uow.commit()
    return decision_dict(row)


def _cell(r: Any) -> dict[str, Any]:
    return {"source": r.source, "location": r.location, "stock_type": r.stock_type, "quantity": r.quantity,
            "observed_at": r.observed_at.isoformat(), "canonical": r.canonical, "lineage_id": f"observation:{r.id}",
            "raw_event_id": r.raw_event_id, "rule": r.rule_id, "rule_version": r.rule_version}  # fmt: skip


def _read_sheet(filename: str, content: bytes) -> list[dict[str, Any]]:
    if filename.lower().endswith(".xlsx"):
        rows = _xlsx_rows(content)
    elif filename.lower().endswith(".csv"):
        try:
            rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        except UnicodeDecodeError:
            raise InvalidRequest("CSV must be UTF-8") from None
    else:
        raise InvalidRequest(f"unsupported file {filename!r}: upload .csv or .xlsx")
    if not rows:
        raise InvalidRequest("the sheet has no data rows")
    if len(rows) > MAX_ROWS:
        raise InvalidRequest(f"the sheet has {len(rows)} rows; at most {MAX_ROWS} per upload")
    out = []
    for n, row in enumerate(rows, start=2):
        missing = [c for c in ("sku", "location", "stock_type", "quantity") if not str(row.get(c) or "").strip()]
        if missing:
            raise InvalidRequest(f"row {n}: missing {', '.join(missing)}")
        try:
            quantity = int(str(row["quantity"]).strip().split(".")[0] if str(row["quantity"]).strip().endswith(".0")
                           else str(row["quantity"]).strip())  # fmt: skip
        except ValueError:
            raise InvalidRequest(f"row {n}: quantity {row['quantity']!r} is not a whole number") from None
        item = {"sku": str(row["sku"]).strip(), "location": str(row["location"]).strip(),
                "stock_type": str(row["stock_type"]).strip(), "quantity": quantity}  # fmt: skip
        if row.get("counted_at"):
            item["counted_at"] = str(row["counted_at"]).strip()
        out.append(item)
    return out


def _xlsx_rows(content: bytes) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the uploader's problem
        raise InvalidRequest(f"not a readable .xlsx file: {type(exc).__name__}") from None
    values = list(sheet.iter_rows(values_only=True)) if sheet is not None else []
    if not values:
        return []
    header = [str(h or "").strip() for h in values[0]]
    return [dict(zip(header, row, strict=False)) for row in values[1:] if any(v is not None for v in row)]
