"""DeclarativeConnector: a ``Connector`` whose every behaviour comes from a ``ChannelSpec``.

::

    MeituanConnector = connector_from_yaml(Path(__file__).with_name("connector.yaml"),
                                           class_name="MeituanConnector", module=__name__)
    async with MeituanConnector(config) as mt:
        await mt.write_stock("SKU-A", 37, idempotency_key="sync:1")
        levels = await mt.read_stock(["SKU-A"])                 # {"SKU-A": 37}
        event = mt.verify_push(headers, body, now=time.time())

The HTTP plumbing (retries, per-shop rate limit, error classes) is ``connectors.base.BaseClient``;
the spec only says which URL, which parameters, where the records and codes are.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx

from connectors.base import (
    BaseClient,
    Connector,
    InstanceConfig,
    NotFound,
    Page,
    PollCursor,
    PushAck,
    PushedEvent,
    ValidationError,
    VerificationError,
    WriteResult,
    translate_errors,
)

from .endpoints import Endpoint, format_time, parse_time, pick_topic
from .spec import ChannelSpec, load_spec
from .template import TemplateError, render_tree

__all__ = ["DeclarativeClient", "DeclarativeConnector", "connector_from_yaml"]


class DeclarativeClient(BaseClient):
    """``BaseClient`` that also reads the platform's error code out of a JSON body (HTTP 200 errors)."""

    def __init__(self, config: InstanceConfig, spec: ChannelSpec) -> None:
        super().__init__(
            config, errors=spec.errors.table, rate=spec.rate_limit.per_second, burst=spec.rate_limit.burst,
            auth=spec.auth.build(config) if spec.auth else None, timeout=spec.timeout,
        )
        self.spec = spec

    def check(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        found = self.spec.errors.body_error(body) if body is not None else None
        if found is not None:
            code, message = found
            retry_after = response.headers.get("Retry-After")
            raise self.errors.error_for(
                code, instance=self.config.name, status=response.status_code,
                detail=f"{response.request.method} {response.request.url.path}: {message}"[:300],
                retry_after=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
            )
        super().check(response)


class DeclarativeConnector(Connector):
    """Base of every YAML-described connector; ``connector_from_yaml`` makes the concrete class."""

    spec: ClassVar[ChannelSpec]

    def __init__(self, config: InstanceConfig) -> None:
        super().__init__(config)
        self._client: DeclarativeClient | None = None

    @property
    def client(self) -> DeclarativeClient:
        if self._client is None:
            self._client = DeclarativeClient(self.config, self.spec)
        return self._client

    # -- push -----------------------------------------------------------------------------------
    def verify_push(self, headers: Mapping[str, str], body: bytes, *, now: float) -> PushedEvent:
        if self.spec.push is None:
            return super().verify_push(headers, body, now=now)
        return self.spec.push.verify(self.config, headers, body, now=now)

    def push_ack(self, event: PushedEvent) -> PushAck:
        return self.spec.push.ack_for(event) if self.spec.push else super().push_ack(event)

    def push_refusal(self, error: VerificationError) -> PushAck:
        return self.spec.push.refusal_for(error) if self.spec.push else super().push_refusal(error)

    # -- plumbing -------------------------------------------------------------------------------
    def _context(self, sku: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"settings": self.config.settings, "sku": sku, "listing": self.config.listings.get(sku or "", {}),
                "now": int(time.time()), **extra}

    async def _call(self, endpoint: Endpoint, context: Mapping[str, Any], extra: Mapping[str, Any] = ()) -> Any:
        try:
            path = self.spec.base_path.rstrip("/") + "/" + str(endpoint.path.render(context)).lstrip("/")
            kwargs: dict[str, Any] = {"params": {**render_tree(endpoint.params, context), **dict(extra)}}
            if endpoint.form is not None:
                kwargs["data"] = render_tree(endpoint.form, context)
            if endpoint.json is not None:
                kwargs["json"] = render_tree(endpoint.json, context)
        except TemplateError as exc:
            raise ValidationError(f"cannot build the {endpoint.method} request", instance=self.name,
                                  detail=str(exc)) from None
        response = await self.client.request(endpoint.method, path, **kwargs)
        with translate_errors(self.name):
            return response.json() if response.content else None

    @staticmethod
    def _records(endpoint: Endpoint, body: Any) -> list[Any]:
        assert endpoint.records is not None
        out: list[Any] = []
        for found in endpoint.records.all(body):
            out.extend(found if isinstance(found, list) else [found])
        return out

    # -- stock ----------------------------------------------------------------------------------
    async def read_stock(self, skus: Sequence[str]) -> dict[str, int]:
        spec = self.spec.read_stock
        if spec is None:
            return await super().read_stock(skus)
        try:
            wanted = {str(spec.match.render(self._context(sku))): sku for sku in skus}
        except TemplateError as exc:
            raise NotFound("no listing for a SKU", instance=self.name, detail=str(exc)) from None
        records: list[Any] = []
        if spec.per_sku:
            for sku in skus:
                records += self._records(spec.endpoint, await self._call(spec.endpoint, self._context(sku)))
        elif skus:
            context = self._context(skus[0], skus=",".join(wanted))
            records = self._records(spec.endpoint, await self._call(spec.endpoint, context))
        levels: dict[str, int] = {}
        for record in records:
            external = spec.sku_field.first(record)
            if external is not None and str(external) in wanted:
                levels[wanted[str(external)]] = _as_int(spec.quantity_field.first(record), self.name, "quantity")
        missing = [sku for sku in skus if sku not in levels]
        if missing:
            raise NotFound(f"the platform returned no stock for {', '.join(missing)}", instance=self.name)
        return levels

    async def write_stock(
        self, sku: str, quantity: int | None, *, compare_to: int | None = None, delta: int | None = None,
        idempotency_key: str,
    ) -> WriteResult:
        spec = self.spec.write_stock
        if spec is None:
            return await super().write_stock(sku, quantity, compare_to=compare_to, delta=delta,
                                             idempotency_key=idempotency_key)
        self._check_stock_write(sku, quantity, compare_to=compare_to, delta=delta)
        assert quantity is not None  # a declarative channel declares no delta writes
        body = await self._call(spec.endpoint, self._context(sku, quantity=quantity, idempotency_key=idempotency_key))
        after = quantity
        if spec.quantity_field is not None:
            after = _as_int(spec.quantity_field.first(body), self.name, "written quantity")
        return WriteResult(sku, after, reference=idempotency_key)

    # -- poll -----------------------------------------------------------------------------------
    async def poll(self, stream: str, cursor: str | None) -> Page:
        spec = self.spec.streams.get(stream)
        if spec is None:
            known = ", ".join(self.spec.streams) or "none"
            raise ValidationError(f"unknown {self.platform} stream {stream!r}; known: {known}", instance=self.name)
        overlap = timedelta(seconds=float(self.config.setting("poll_overlap_seconds", spec.overlap_seconds)))
        try:
            state = PollCursor.loads(cursor)
        except ValueError as exc:
            raise ValidationError(str(exc), instance=self.name) from None
        state = state.open(now=datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))
        since, until = state.bounds(overlap)
        size = spec.pagination.size(self.config.settings)
        context = self._context(since=format_time(since, spec.time_format), until=format_time(until, spec.time_format))
        body = await self._call(spec.endpoint, context, spec.pagination.params(state.page_token, size))
        records = self._records(spec.endpoint, body)
        by_key: dict[str, Any] = {}
        items = []
        for record in records:
            ident = spec.key.first(record)
            if ident is None:
                raise ValidationError(f"a {stream} record has no {spec.key.path}", instance=self.name)
            try:
                updated = parse_time(spec.updated_at.first(record), spec.time_format)
            except (ValueError, TypeError, OverflowError) as exc:
                raise ValidationError(f"{stream} record {ident}: bad {spec.updated_at.path}", instance=self.name,
                                      detail=str(exc)) from None
            digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:12]
            key = f"{stream}:{ident}@{updated.isoformat()}#{digest}"
            by_key[key] = (record, updated)
            items.append((key, updated))
        token = spec.pagination.next_token(state.page_token, body, len(records), size)
        keep, state = state.advance(items, next_token=token, overlap=overlap)
        events = []
        for key in keep:
            record, updated = by_key[key]
            rule = pick_topic(spec.topics, record)
            events.append(PushedEvent(event_id=key, topic=rule.topic if rule else stream, payload=record,
                                      occurred_at=updated, source="poll"))
        return Page(events=tuple(events), next_cursor=state.dumps(), has_more=state.in_window)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _as_int(value: Any, instance: str, what: str) -> int:
    try:
        return int(value) if not isinstance(value, str) or value.lstrip("-").isdigit() else int(float(value))
    except (TypeError, ValueError):
        raise ValidationError(f"the platform's {what} is not a number: {value!r}", instance=instance) from None


def connector_from_yaml(
    path: str | Path, *, class_name: str | None = None, module: str | None = None
) -> type[DeclarativeConnector]:
    """Load ``path`` (``SpecError`` if invalid) and make the connector class the registry will import."""
    spec = load_spec(path)
    name = class_name or "".join(part.capitalize() for part in spec.platform.replace("-", "_").split("_")) + "Connector"
    attrs: dict[str, Any] = {
        "spec": spec, "platform": spec.platform, "capabilities": spec.capabilities, "sandbox_app": spec.sandbox_app,
        "mapping_dir": spec.mapping_dir, "streams": tuple(spec.streams),
        "__doc__": f"{spec.description or spec.platform} (declarative, from {Path(path).name}).",
        "__module__": module or __name__,
    }
    return type(name, (DeclarativeConnector,), attrs)
