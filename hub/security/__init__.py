"""Security of the hub: who is calling (users, API tokens, console sessions), what they may do (roles),
secrets at rest, inbound limits, and the audit log.

Public interface (the console and other controllers code against exactly this)::

    Role, Principal, requires(role), current_principal(request), PUBLIC
    await login(session, username, password) -> Principal | None
    await create_session(session, principal) -> cookie value;  await end_session(session, cookie_value)
    SESSION_COOKIE, cookie_options(ttl)
    await ensure_admin(session, settings) -> generated password | None
    await issue_token(session, name, role, expires_in=...) -> IssuedToken(.token shown once)
    await audit(session, principal, action, target, before=None, after=None)
    encrypt(settings, plaintext) -> bytes;  decrypt(settings, blob) -> bytes
    await check_inbound_rate(source, settings)   (raises RateLimited)
    AuthMiddleware, AuditMiddleware, InboundLimitMiddleware, enforce_roles, secure_app(app)
"""

from __future__ import annotations

from hub.security.audit import AuditMiddleware, audit, redact
from hub.security.middleware import AuthMiddleware
from hub.security.ratelimit import InboundLimitMiddleware, RateLimited, check_inbound_rate
from hub.security.roles import PUBLIC, Guard, Principal, Role, current_principal, enforce_roles, requires
from hub.security.routes import ROUTE_ROLES, secure_app
from hub.security.secrets import SecretError, decrypt, encrypt
from hub.security.sessions import SESSION_COOKIE, cookie_options, create_session, end_session
from hub.security.tokens import IssuedToken, issue_token, resolve_token, revoke_token
from hub.security.users import create_user, ensure_admin, login

__all__ = [
    "PUBLIC",
    "ROUTE_ROLES",
    "SESSION_COOKIE",
    "AuditMiddleware",
    "AuthMiddleware",
    "Guard",
    "InboundLimitMiddleware",
    "IssuedToken",
    "Principal",
    "RateLimited",
    "Role",
    "SecretError",
    "audit",
    "check_inbound_rate",
    "cookie_options",
    "create_session",
    "create_user",
    "current_principal",
    "decrypt",
    "encrypt",
    "end_session",
    "enforce_roles",
    "ensure_admin",
    "issue_token",
    "login",
    "redact",
    "requires",
    "resolve_token",
    "revoke_token",
    "secure_app",
]
