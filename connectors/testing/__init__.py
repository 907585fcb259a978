"""The connector acceptance kit and sandbox helpers (``pytest`` needed only for ``acceptance``)."""

from __future__ import annotations

from .operator import Faults, RequestLog
from .sandbox_server import run_sandbox, run_sandbox_process

__all__ = ["Faults", "RequestLog", "run_sandbox", "run_sandbox_process"]
