"""PushSpec: how the platform signs what it pushes to us, and what it expects back.

Meituan 闪购 posts a form whose ``sig`` is md5(callback url + "?" + sorted params + secret); the
hub must know the callback URL it registered (instance setting ``push_url``)::

    push:
      body: form                                  # form | json
      signature: {in: param, name: sig, url: "{settings.push_url}", algorithm: md5,
                  sign_string: "{url}?{query}{secret}", secret: app_secret}
      timestamp: {in: param, name: timestamp, format: epoch_s, window: 600}
      app_id: {param: app_id, credential: app_id}  # refuse pushes meant for another app
      json_fields: [food_data, detail]             # string fields that must hold JSON
      topics:
        - {topic: retail.sku.stock, when: "$.food_data", event_id: "stock:{app_poi_code}:{timestamp}:{digest}"}
        - {topic: order.create, when: "$.order_id", event_id: "order:{order_id}:{status}"}
      ack: {status: 200, body: {data: ok}}               # a mapping is answered as JSON
      refusal: {body: {data: ng, error: {code: 703, msg: "{reason}"}}}

A JSON webhook signed in headers::

    push:
      body: json
      signature: {in: header, name: X-Signature, algorithm: hmac_sha256, sign_string: "{timestamp}.{body}",
                  secret: webhook_secret}
      timestamp: {in: header, name: X-Timestamp, window: 300}
      topics: [{topic: order.created, when: "$.order", event_id: "{event_id}"}]

Refusals: unparseable body 400, missing/wrong signature 401, stale timestamp 401, unknown topic 400.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from connectors.base import (
    InstanceConfig,
    PushAck,
    PushedEvent,
    VerificationError,
    check_freshness,
    constant_time_equals,
    lower_headers,
)

from ._reader import Reader
from .endpoints import TopicRule, pick_topic
from .signing import SignatureRecipe
from .template import Template, TemplateError, compile_tree, render_tree

__all__ = ["AckSpec", "PushSpec"]


@dataclass(frozen=True)
class AckSpec:
    """What to answer: ``{status: 200, body: {data: ok}}`` (a mapping is sent as JSON) or a text body;
    a refusal body may use ``{reason}``."""

    status: int
    body: Any
    content_type: str

    @classmethod
    def read(cls, r: Reader | None, *, status: int, body: str, content_type: str) -> AckSpec:
        if r is None:
            return cls(status, Template.compile(body), content_type)
        raw = r.get("body", (str, dict, list), body)
        default_type = content_type if isinstance(raw, str) else "application/json"
        spec = cls(r.get("status", int, status), compile_tree(raw, file=r.file, key=r.where("body")),
                   r.get("content_type", str, default_type))
        r.done()
        return spec

    def render(self, context: Mapping[str, Any]) -> bytes:
        value = render_tree(self.body, context)
        if isinstance(value, str):
            return value.encode()
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class PushSpec:
    """Verification and parsing of one channel's pushes."""

    body: str
    signature_in: str
    signature_name: str
    signed_url: Template | None
    recipe: SignatureRecipe
    timestamp_in: str | None
    timestamp_name: str | None
    timestamp_format: str
    window: float
    app_id_param: str | None
    app_id_credential: str | None
    json_fields: tuple[str, ...]
    topics: tuple[TopicRule, ...]
    ack: AckSpec
    refusal: AckSpec | None

    @classmethod
    def read(cls, r: Reader) -> PushSpec:
        sig = r.child("signature")
        assert sig is not None
        ts = r.child("timestamp", required=False)
        app = r.child("app_id", required=False)
        url = sig.get("url", str, None)
        spec = cls(
            body=r.choice("body", ("form", "json"), "json"),
            signature_in=sig.choice("in", ("param", "header"), "header"), signature_name=sig.need("name", str),
            signed_url=Template.compile(url, file=r.file, key=sig.where("url")) if url else None,
            recipe=SignatureRecipe.read(sig),
            timestamp_in=ts.choice("in", ("param", "header"), "header") if ts else None,
            timestamp_name=ts.need("name", str) if ts else None,
            timestamp_format=ts.choice("format", ("epoch_s", "epoch_ms"), "epoch_s") if ts else "epoch_s",
            window=ts.get("window", float, 300.0) if ts else 0.0,
            app_id_param=app.get("param", str, "app_id") if app else None,
            app_id_credential=app.get("credential", str, "app_id") if app else None,
            json_fields=tuple(r.get("json_fields", list, [])),
            topics=TopicRule.read_list(r, "topics"),
            ack=AckSpec.read(r.child("ack", required=False), status=200, body="", content_type="text/plain"),
            refusal=AckSpec.read(r.child("refusal"), status=0, body="{reason}", content_type="text/plain")
            if r.has("refusal") else None,
        )
        if "url" in spec.recipe.sign_string.names and spec.signed_url is None:
            raise sig.error("url", "is required when sign_string uses {url} (the callback URL the platform signs)")
        if spec.signature_in == "param" and spec.body != "form":
            raise sig.error("in", "a signature parameter needs body: form")
        for part in (sig, ts, app):
            if part is not None:
                part.done()
        r.done()
        return spec

    # -- verification ---------------------------------------------------------------------------
    def verify(self, config: InstanceConfig, headers: Mapping[str, str], body: bytes, *, now: float) -> PushedEvent:
        heads = lower_headers(headers)
        params = self._form(body) if self.body == "form" else {}
        given = self._value(self.signature_in, self.signature_name, params, heads)
        if not given:
            raise VerificationError(401, f"push has no {self.signature_name} {self.signature_in}", instance=config.name)
        stamp = ""
        occurred: float | None = None
        if self.timestamp_name and self.timestamp_in:
            stamp = self._value(self.timestamp_in, self.timestamp_name, params, heads) or ""
            if not stamp:
                raise VerificationError(401, f"push has no {self.timestamp_name} {self.timestamp_in}",
                                        instance=config.name)
            try:
                occurred = float(stamp) / (1000 if self.timestamp_format == "epoch_ms" else 1)
            except ValueError:
                raise VerificationError(400, f"{self.timestamp_name} is not a number: {stamp[:40]!r}",
                                        instance=config.name) from None
        secret = config.credential(self.recipe.secret)
        url = ""
        if self.signed_url is not None:
            try:
                url = str(self.signed_url.render({"settings": config.settings}))
            except TemplateError as exc:
                raise VerificationError(500, f"cannot verify pushes: {exc} (configure the instance's callback URL)",
                                        instance=config.name) from None
        expected = self.recipe.sign(secret, url=url, params=list(params.items()),
                                    body=body.decode("utf-8", "surrogateescape"), timestamp=stamp,
                                    signature_param=self.signature_name if self.signature_in == "param" else None)
        if not constant_time_equals(expected, given):
            raise VerificationError(401, f"{self.signature_name} does not match the push", instance=config.name)
        if occurred is not None:
            try:
                check_freshness(occurred, now=now, window=self.window, what=self.timestamp_name or "timestamp")
            except VerificationError as exc:
                raise VerificationError(401, exc.reason, instance=config.name) from None
        if self.app_id_param and self.app_id_credential:
            expected_app = config.credential(self.app_id_credential)
            if params.get(self.app_id_param, heads.get(self.app_id_param.lower())) != expected_app:
                raise VerificationError(401, f"push is for another {self.app_id_param}", instance=config.name)
        payload = self._payload(params, body, config)
        rule = pick_topic(self.topics, payload)
        if rule is None:
            raise VerificationError(400, "push matches no known topic", instance=config.name)
        return PushedEvent(
            event_id=self._event_id(rule, payload, config), topic=rule.topic, payload=payload,
            occurred_at=datetime.fromtimestamp(occurred, UTC) if occurred is not None else None,
            source=config.name, headers=heads,
        )

    def _form(self, body: bytes) -> dict[str, str]:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise VerificationError(400, "push body is not a valid form (application/x-www-form-urlencoded)") from None
        params = dict(pairs)
        if len(params) != len(pairs):
            raise VerificationError(400, "push body repeats a parameter")
        return params

    @staticmethod
    def _value(where: str, name: str, params: Mapping[str, str], heads: Mapping[str, str]) -> str | None:
        return params.get(name) if where == "param" else heads.get(name.lower())

    def _payload(self, params: dict[str, str], body: bytes, config: InstanceConfig) -> dict[str, Any]:
        if self.body == "form":
            payload: Any = {k: v for k, v in params.items() if not (self.signature_in == "param"
                                                                   and k == self.signature_name)}
        else:
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, ValueError):
                raise VerificationError(400, "push body is not valid JSON", instance=config.name) from None
            if not isinstance(payload, dict):
                raise VerificationError(400, "push body must be a JSON object", instance=config.name)
        for name in self.json_fields:
            if name in payload and isinstance(payload[name], str):
                try:
                    json.loads(payload[name])
                except ValueError:
                    raise VerificationError(400, f"push field {name!r} is not valid JSON",
                                            instance=config.name) from None
        return payload  # type: ignore[no-any-return]

    def _event_id(self, rule: TopicRule, payload: Mapping[str, Any], config: InstanceConfig) -> str:
        digest = hashlib.sha1(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
        if rule.event_id is None:
            return f"{rule.topic}:{digest}"
        try:
            return str(rule.event_id.render({**payload, "topic": rule.topic, "digest": digest}))
        except TemplateError as exc:
            raise VerificationError(400, f"push lacks a field its event id needs: {exc}",
                                    instance=config.name) from None

    # -- answers --------------------------------------------------------------------------------
    def ack_for(self, event: PushedEvent) -> PushAck:
        return PushAck(self.ack.status, self.ack.render({"topic": event.topic}), self.ack.content_type)

    def refusal_for(self, error: VerificationError) -> PushAck:
        if self.refusal is None:
            return PushAck(error.status_code, error.reason.encode(), "text/plain; charset=utf-8")
        status = self.refusal.status or error.status_code
        return PushAck(status, self.refusal.render({"reason": error.reason}), self.refusal.content_type)
