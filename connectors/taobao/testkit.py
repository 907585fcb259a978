"""Helpers for tests, bench and demos: a running TOP sandbox plus a connector configured for it."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import InstanceConfig
from connectors.testing import run_sandbox

from .sandbox import create_app
from .sandbox.state import SandboxState

APP_KEY = "12345678"
APP_SECRET = "zhongshu-top-secret"
ACCESS_TOKEN = "6201zhongshu-demo-session"
REFRESH_TOKEN = "6202zhongshu-demo-refresh"
LISTINGS: dict[str, dict[str, Any]] = {
    "SKU-A": {"num_iid": 520000000001, "sku_id": 4200000000001},
    "SKU-B": {"num_iid": 520000000001, "sku_id": 4200000000002},
    "SKU-C": {"num_iid": 520000000002},
}


_names = itertools.count(1)


@dataclass
class RunningSandbox:
    url: str
    state: SandboxState

    def config(self, *, name: str | None = None, secret: str = APP_SECRET, **settings: Any) -> InstanceConfig:
        # a fresh name per config: BaseClient shares one token bucket per shop name
        return InstanceConfig(
            name=name or f"taobao-test-{next(_names)}", platform="taobao", base_url=self.url,
            credentials={"app_key": APP_KEY, "app_secret": secret, "access_token": ACCESS_TOKEN,
                         "refresh_token": REFRESH_TOKEN},
            settings={"rate_limit_per_second": 1000, "rate_limit_burst": 1000, **settings},
            listings=LISTINGS,
        )

    def operator(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST (with body) or GET an operator endpoint; raises on a non-2xx answer."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            response = http.post(path, json=body) if body is not None else http.get(path)
            response.raise_for_status()
            return response.json()


@contextlib.contextmanager
def sandbox(**kwargs: Any) -> Iterator[RunningSandbox]:
    """Serve a TOP sandbox on a free loopback port for the duration of the block."""
    options = {"app_key": APP_KEY, "app_secret": APP_SECRET, "access_token": ACCESS_TOKEN,
               "refresh_token": REFRESH_TOKEN, **kwargs}
    app = create_app(**options)
    with run_sandbox(app) as url:
        yield RunningSandbox(url=url, state=app.state.sandbox)
