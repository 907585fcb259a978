"""ChannelSpec: a whole channel read from one YAML file, validated, ``$ref`` resolved, jsonpaths compiled.

::

    spec_version: 1
    platform: acme                              # registry name
    description: Acme marketplace (token auth, JSON)
    sandbox_app: acme_connector.sandbox:create_app
    mapping_dir: acme
    definitions:
      bearer: {type: bearer, credential: access_token}
    base_path: /api/
    auth: {$ref: "#/definitions/bearer"}
    rate_limit: {per_second: 5, burst: 10}      # the platform's documented limit, per shop
    errors: {...}                               # ErrorSpec
    endpoints: {read_stock: {...}, write_stock: {...}}   # StockRead, StockWrite
    streams: {orders: {...}}                    # Stream (an "orders" stream also gives list_orders)
    push: {...}                                 # PushSpec

Capabilities follow from what is described: ``push`` from ``push``, ``poll`` from ``streams``,
``list_orders`` from an ``orders`` stream, ``read_stock``/``write_stock`` from the endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from connectors.base import Capability

from ._reader import Reader, SpecError, resolve_refs
from .auth import AuthSpec, read_auth
from .endpoints import StockRead, StockWrite, Stream
from .errors import ErrorSpec
from .push import PushSpec

__all__ = ["ChannelSpec", "RateLimit", "load_spec", "parse_spec"]

SPEC_VERSIONS = (1,)


@dataclass(frozen=True)
class RateLimit:
    """``rate_limit: {per_second: 20, burst: 20}``; instance settings ``rate_limit_per_second``/``_burst`` win."""

    per_second: float = 10.0
    burst: float = 10.0

    @classmethod
    def read(cls, r: Reader | None) -> RateLimit:
        if r is None:
            return cls()
        spec = cls(r.get("per_second", float, 10.0), r.get("burst", float, 10.0))
        if spec.per_second <= 0 or spec.burst < 1:
            raise r.error("per_second", "per_second must be > 0 and burst >= 1")
        r.done()
        return spec


@dataclass(frozen=True)
class ChannelSpec:
    """Everything the declarative connector needs; ``file`` is where it came from (for messages)."""

    file: str
    platform: str
    description: str
    sandbox_app: str | None
    mapping_dir: str | None
    base_path: str
    auth: AuthSpec | None
    rate_limit: RateLimit
    timeout: float
    errors: ErrorSpec
    read_stock: StockRead | None
    write_stock: StockWrite | None
    streams: dict[str, Stream]
    push: PushSpec | None

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = set()
        if self.push:
            caps.add(Capability.PUSH)
        if self.streams:
            caps.add(Capability.POLL)
        if "orders" in self.streams:
            caps.add(Capability.LIST_ORDERS)
        if self.read_stock:
            caps.add(Capability.READ_STOCK)
        if self.write_stock:
            caps.add(Capability.WRITE_STOCK)
        return frozenset(caps)


def load_spec(path: str | Path) -> ChannelSpec:
    """Read and validate a spec file; every problem is a ``SpecError`` naming the file and key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(str(path), "", f"cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(str(path), "", f"not valid YAML: {exc}") from None
    return parse_spec(data, file=str(path))


def parse_spec(data: Any, *, file: str = "<spec>") -> ChannelSpec:
    """Validate an already parsed YAML document (tests, generated specs)."""
    top = Reader(data, file=file)
    version = top.get("spec_version", int, 1)
    if version not in SPEC_VERSIONS:
        raise top.error("spec_version", f"unsupported version {version}; this engine reads {SPEC_VERSIONS}")
    definitions = top.get("definitions", dict, {})
    resolved = resolve_refs({k: v for k, v in data.items() if k != "definitions"}, definitions, file=file)
    r = Reader({**resolved, "definitions": definitions, "spec_version": version}, file=file)
    r.get("definitions", dict, {})
    r.get("spec_version", int)
    platform = r.need("platform", str)
    if not platform.replace("_", "").replace("-", "").isalnum():
        raise r.error("platform", f"must be a plain name (letters, digits, - and _), got {platform!r}")
    endpoints = r.child("endpoints", required=False)
    read_stock = write_stock = None
    if endpoints is not None:
        rs, ws = endpoints.child("read_stock", required=False), endpoints.child("write_stock", required=False)
        read_stock = StockRead.read(rs) if rs else None
        write_stock = StockWrite.read(ws) if ws else None
        endpoints.done()
    streams_node = r.child("streams", required=False)
    streams: dict[str, Stream] = {}
    if streams_node is not None:
        for name in list(streams_node.data):
            child = streams_node.child(str(name))
            assert child is not None
            streams[str(name)] = Stream.read(str(name), child)
        streams_node.done()
    auth = r.child("auth", required=False)
    push = r.child("push", required=False)
    spec = ChannelSpec(
        file=file, platform=platform, description=r.get("description", str, ""),
        sandbox_app=r.get("sandbox_app", str, None), mapping_dir=r.get("mapping_dir", str, None),
        base_path=r.get("base_path", str, "/"), auth=read_auth(auth) if auth else None,
        rate_limit=RateLimit.read(r.child("rate_limit", required=False)), timeout=r.get("timeout", float, 10.0),
        errors=ErrorSpec.read(r.child("errors", required=False)), read_stock=read_stock, write_stock=write_stock,
        streams=streams, push=PushSpec.read(push) if push else None,
    )
    if spec.sandbox_app is not None and ":" not in spec.sandbox_app:
        raise r.error("sandbox_app", f"must look like 'package.module:create_app', got {spec.sandbox_app!r}")
    if not spec.capabilities:
        raise r.error("endpoints", "the channel describes nothing to do: add endpoints, streams or push")
    r.done()
    return spec
