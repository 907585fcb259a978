"""Helpers shared by the connector tests: a clock the test moves by hand, and a sandbox served on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from connectors.testing import run_sandbox


class Clock:
    """Unix seconds that move only when the test says so (``clock.t += 601``), for ``clock=``."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@contextmanager
def clocked_sandbox(create_app: Callable[..., Any], clock: Clock, **kwargs: Any) -> Iterator[str]:
    """Serve ``create_app(clock=clock, **kwargs)`` with its rate limit out of the way; yield its base URL."""
    app = create_app(clock=clock, rate_limit_per_second=1000, rate_limit_burst=1000, **kwargs)
    with run_sandbox(app) as base_url:
        yield base_url
