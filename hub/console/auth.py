"""The console's view of hub.security: who is logged in, what they may do, and the audit hook.

Everything security-related is decided by :mod:`hub.security`; this module only adapts it for templates
(``can_operate``) and names the guards the console's routes use.
"""

from __future__ import annotations

from typing import Any

from hub.security import (
    PUBLIC,
    SESSION_COOKIE,
    Principal,
    Role,
    audit,
    cookie_options,
    create_session,
    current_principal,
    end_session,
    login,
    requires,
)

VIEWER = [requires(Role.viewer)]
OPERATOR = [requires(Role.operator)]
PUBLIC_OPT: dict[str, Any] = {"role": PUBLIC}

__all__ = ["OPERATOR", "PUBLIC_OPT", "SESSION_COOKIE", "VIEWER", "Principal", "Role", "audit", "can_operate",
           "cookie_options", "create_session", "current_principal", "end_session", "login"]  # fmt: skip


def can_operate(principal: Principal | None) -> bool:
    """Whether approve / reject / retry / replay controls are shown (the server checks again on POST)."""
    return principal is not None and principal.may(Role.operator)
