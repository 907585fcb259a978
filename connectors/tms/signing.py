"""Kuaidi100 (快递100) signatures: upper-hex MD5 over plain concatenations (pure, no I/O).

From the official demos (kuaidi100-api/java-demo ``SignUtils``, python-demo ``synquery.py``):
the real-time query signs ``MD5(param + key + customer)``; a subscription push carries
``sign = MD5(param + salt)`` with the salt the subscriber chose. ``param`` is the exact JSON string
sent, so verify over the bytes received, never over re-serialised JSON.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["push_sign", "query_sign", "signatures_match"]


def _md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def query_sign(param: str, key: str, customer: str) -> str:
    """``sign`` of a /poll/query.do request."""
    return _md5_upper(param + key + customer)


def push_sign(param: str, salt: str) -> str:
    """``sign`` of a subscription push to the callback URL."""
    return _md5_upper(param + salt)


def signatures_match(expected: str, given: str | None) -> bool:
    return hmac.compare_digest(expected.upper().encode(), (given or "").strip().upper().encode())
