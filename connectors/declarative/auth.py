"""Outbound request authentication as data: ``url_signature`` (app_id + timestamp + sig) or ``bearer``.

Meituan waimai/闪购: ``app_id`` and ``timestamp`` join the parameters, ``sig`` is
md5(url + "?" + sorted params + secret), and the three system parameters ride in the query string::

    auth:
      type: url_signature
      app_id: {param: app_id, credential: app_id}
      timestamp: {param: timestamp, format: epoch_s}     # epoch_s | epoch_ms
      signature: {param: sig, algorithm: md5, sign_string: "{url}?{query}{secret}", case: lower, secret: app_secret}

A token in a header::

    auth: {type: bearer, credential: access_token, header: Authorization, prefix: "Bearer "}

Both become an ``httpx.Auth`` (STYLE 33), so signing happens on every attempt, retries included,
and a retried request carries a fresh timestamp.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import httpx

from connectors.base import InstanceConfig

from ._reader import Reader
from .signing import SignatureRecipe

__all__ = ["AuthSpec", "BearerAuthSpec", "UrlSignatureAuthSpec", "read_auth"]


@dataclass(frozen=True)
class UrlSignatureAuthSpec:
    """System parameters + a signature over url and parameters (Meituan, and TOP-like gateways)."""

    app_id_param: str
    app_id_credential: str
    timestamp_param: str
    timestamp_format: str
    signature_param: str
    recipe: SignatureRecipe

    @classmethod
    def read(cls, r: Reader) -> UrlSignatureAuthSpec:
        app = r.child("app_id")
        ts = r.child("timestamp")
        sig = r.child("signature")
        assert app and ts and sig
        spec = cls(
            app_id_param=app.get("param", str, "app_id"), app_id_credential=app.get("credential", str, "app_id"),
            timestamp_param=ts.get("param", str, "timestamp"),
            timestamp_format=ts.choice("format", ("epoch_s", "epoch_ms"), "epoch_s"),
            signature_param=sig.get("param", str, "sig"), recipe=SignatureRecipe.read(sig),
        )
        for part in (app, ts, sig):
            part.done()
        return spec

    def build(self, config: InstanceConfig) -> httpx.Auth:
        return _UrlSignatureAuth(self, config)


class _UrlSignatureAuth(httpx.Auth):
    def __init__(self, spec: UrlSignatureAuthSpec, config: InstanceConfig) -> None:
        self.spec, self.config = spec, config

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        spec = self.spec
        now = time.time()
        stamp = str(int(now * 1000) if spec.timestamp_format == "epoch_ms" else int(now))
        system = {spec.app_id_param: self.config.credential(spec.app_id_credential), spec.timestamp_param: stamp}
        params = [(k, v) for k, v in request.url.params.multi_items()]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params += parse_qsl(request.content.decode(), keep_blank_values=True)
        params += list(system.items())
        url = str(request.url.copy_with(query=None))
        sig = spec.recipe.sign(self.config.credential(spec.recipe.secret), url=url, params=params,
                               body=request.content.decode("utf-8", "surrogateescape"), timestamp=stamp,
                               signature_param=spec.signature_param)
        request.url = request.url.copy_merge_params({**system, spec.signature_param: sig})
        yield request


@dataclass(frozen=True)
class BearerAuthSpec:
    """A static token from the instance's credentials in a header (``Authorization: Bearer <token>``)."""

    credential: str = "access_token"
    header: str = "Authorization"
    prefix: str = "Bearer "

    @classmethod
    def read(cls, r: Reader) -> BearerAuthSpec:
        return cls(r.get("credential", str, "access_token"), r.get("header", str, "Authorization"),
                   r.get("prefix", str, "Bearer "))

    def build(self, config: InstanceConfig) -> httpx.Auth:
        return _BearerAuth(self, config)


class _BearerAuth(httpx.Auth):
    def __init__(self, spec: BearerAuthSpec, config: InstanceConfig) -> None:
        self.spec, self.config = spec, config

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.spec.header] = f"{self.spec.prefix}{self.config.credential(self.spec.credential)}"
        yield request


AuthSpec = UrlSignatureAuthSpec | BearerAuthSpec


def read_auth(r: Reader) -> AuthSpec:
    kind = r.choice("type", ("url_signature", "bearer"))
    spec: AuthSpec = UrlSignatureAuthSpec.read(r) if kind == "url_signature" else BearerAuthSpec.read(r)
    r.done()
    return spec
