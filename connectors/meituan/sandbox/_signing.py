"""Meituan's md5 url signature, written independently of the declarative engine (the sandbox is the platform)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def meituan_sig(url: str, params: Iterable[tuple[str, str]], secret: str) -> str:
    """md5(url + "?" + sorted "k=v" joined by "&" (sig left out) + secret), lower-case hex."""
    pairs = sorted((str(k), str(v)) for k, v in params if k != "sig")
    return hashlib.md5(f"{url}?{'&'.join(f'{k}={v}' for k, v in pairs)}{secret}".encode()).hexdigest()
