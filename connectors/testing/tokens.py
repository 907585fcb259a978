"""Access and refresh tokens as a platform's OAuth server issues them, for sandbox shops.

The JD and Douyin sandboxes both hand out an access token with a lifetime and a refresh token
that can be traded once for a new pair. A shop subclasses ``TokenIssuer`` and shares its lock::

    class JdShop(TokenIssuer):
        def __init__(self, catalog):
            super().__init__()                      # self.lock, self.tokens, self.refresh
            ...

    issued = shop.issue_token(now, ttl=86400)       # Token(access_token, refresh_token, expires_at)
    shop.token_state(issued.access_token, now)      # "ok" | "missing" | "unknown" | "expired"
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

__all__ = ["Token", "TokenIssuer"]


@dataclass
class Token:
    """One issued pair; ``expires_at`` is unix seconds on the sandbox's clock."""

    access_token: str
    refresh_token: str
    expires_at: float


class TokenIssuer:
    """Issues, checks, expires and rotates tokens; thread-safe under ``self.lock`` (re-entrant)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tokens: dict[str, Token] = {}
        self.refresh: dict[str, str] = {}  # refresh token -> the access token issued with it

    def issue_token(self, now: float, ttl: float, token: str | None = None) -> Token:
        """A new pair valid for ``ttl`` seconds; ``token`` fixes the access token (pre-issued ones)."""
        with self.lock:
            issued = Token(token or secrets.token_hex(16), secrets.token_hex(16), now + ttl)
            self.tokens[issued.access_token] = issued
            self.refresh[issued.refresh_token] = issued.access_token
            return issued

    def token_state(self, token: str | None, now: float) -> str:
        """``"ok"``, ``"missing"``, ``"unknown"`` or ``"expired"``."""
        if not token:
            return "missing"
        with self.lock:
            found = self.tokens.get(token)
            if found is None:
                return "unknown"
            return "expired" if found.expires_at <= now else "ok"

    def expire_tokens(self, now: float) -> None:
        """Every issued access token expires at ``now`` (refresh tokens stay usable)."""
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = now

    def rotate(self, refresh_token: str, now: float, ttl: float) -> Token | None:
        """Trade a refresh token for a new pair; the old refresh token is spent."""
        with self.lock:
            if self.refresh.pop(refresh_token, None) is None:
                return None
            return self.issue_token(now, ttl)
