"""Shopify OAuth install flow (authorization code grant) through authlib's httpx client.

::

    url = authorization_url(config, redirect_uri="https://hub/oauth/shopify", scopes=SCOPES, state=nonce)
    # ... the merchant approves; Shopify redirects to redirect_uri?code=..&hmac=..&shop=..&state=..&timestamp=..
    verify_callback(query, secret=config.credential("app_secret"), now=time.time())
    token = await exchange_code(config, query["code"])      # -> access token for InstanceConfig.credentials
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

import authlib.deprecate  # noqa: F401  (installs its "always" filter first, so ours below wins)

with warnings.catch_warnings():  # authlib 1.9 nudges towards the httpx2 package; httpx works unchanged
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from connectors.base import (
    AuthError,
    InstanceConfig,
    VerificationError,
    check_freshness,
    constant_time_equals,
    hmac_sha256_hex,
    translate_errors,
)

from . import constants as c

__all__ = ["SCOPES", "authorization_url", "callback_message", "exchange_code", "verify_callback"]

SCOPES = ("read_inventory", "write_inventory", "read_orders", "read_locations", "read_products")


def authorization_url(config: InstanceConfig, *, redirect_uri: str, scopes: Sequence[str], state: str) -> str:
    """Where to send the merchant to install the app."""
    query = urlencode(
        {"client_id": config.credential("app_key"), "scope": ",".join(scopes), "redirect_uri": redirect_uri,
         "state": state}
    )
    return f"{config.base_url.rstrip('/')}/admin/oauth/authorize?{query}"


def callback_message(query: Mapping[str, str]) -> str:
    """The string Shopify signs: every parameter but ``hmac``/``signature``, sorted, ``k=v`` joined by ``&``."""
    return "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k not in ("hmac", "signature"))


def verify_callback(query: Mapping[str, str], *, secret: str, now: float) -> None:
    """Refuse a callback whose hex HMAC is wrong or whose timestamp is more than 90 s off."""
    if not constant_time_equals(query.get("hmac"), hmac_sha256_hex(secret, callback_message(query))):
        raise VerificationError(401, "OAuth callback hmac does not match its query")
    try:
        timestamp = float(query.get("timestamp", ""))
    except ValueError:
        raise VerificationError(400, "OAuth callback has no valid timestamp") from None
    check_freshness(timestamp, now=now, window=c.OAUTH_CLOCK_TOLERANCE, what="OAuth timestamp")


async def exchange_code(config: InstanceConfig, code: str) -> str:
    """Trade the callback ``code`` for an offline access token at ``/admin/oauth/access_token``."""
    token_url = f"{config.base_url.rstrip('/')}/admin/oauth/access_token"
    async with AsyncOAuth2Client(
        client_id=config.credential("app_key"),
        client_secret=config.credential("app_secret"),
        token_endpoint_auth_method="client_secret_post",
        timeout=10.0,
    ) as client:
        with translate_errors(config.name):
            try:
                token = await client.fetch_token(token_url, code=code, grant_type="authorization_code")
            except Exception as exc:  # authlib raises OAuthError and friends
                if exc.__class__.__module__.startswith("httpx"):
                    raise
                raise AuthError("OAuth code exchange refused", instance=config.name, detail=str(exc)[:200]) from exc
    access_token = token.get("access_token")
    if not access_token:
        raise AuthError("OAuth answer has no access_token", instance=config.name)
    return str(access_token)
