"""The audit log: who did what to which target, when, with before/after state (secrets redacted).

Two writers: explicit :func:`audit` calls inside the action's own transaction (preferred: the entry commits
or rolls back with the change), and :class:`AuditMiddleware`, app-wide, that records every
successful mutating request on an operator/admin route that did not audit itself (so no such action goes
unrecorded even when its handler forgets).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.security.roles import PUBLIC, Principal, Role, current_principal, declared_role
from hub.storage.models import utcnow
from hub.storage.models_security import AuditEntry

log = logging.getLogger("zhongshu.audit")
SECRET_KEYS = re.compile(r"(secret|password|token|credential|api[_-]?key|private)", re.I)
REDACTED = "<redacted>"
AUDITED_SCOPE_KEY = "zhongshu_audited"
MAX_BODY_IN_AUDIT = 8 * 1024


def redact(value: Any) -> Any:
    """A copy with every value under a secret-looking key replaced by ``<redacted>``."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if SECRET_KEYS.search(str(k)) and v not in (None, "", [], {}) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and value.startswith(("zs_", "whsec_")):
        return REDACTED
    return value


async def audit(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    target: str = "",
    before: Any = None,
    after: Any = None,
    *,
    detail: str = "",
    request: Any = None,
) -> None:
    """Record an action in the caller's transaction. Pass ``request`` so the app-wide hook does not record it twice."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=principal.id if principal else "system",
            actor_name=principal.name if principal else "system",
            actor_role=principal.role.value if principal else "",
            action=action[:120],
            target=target[:300],
            before=redact(before),
            after=redact(after),
            detail=detail,
        )
    )
    if request is not None:
        request.scope[AUDITED_SCOPE_KEY] = True


def entry_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "actor_name": e.actor_name,
        "actor_role": e.actor_role,
        "action": e.action,
        "target": e.target,
        "before": e.before,
        "after": e.after,
        "detail": e.detail,
    }


async def list_entries(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    stmt = select(AuditEntry)
    if actor:
        stmt = stmt.where((AuditEntry.actor == actor) | (AuditEntry.actor_name == actor))
    if action:
        stmt = stmt.where(AuditEntry.action.like(action.replace("*", "%")))
    if target:
        stmt = stmt.where(AuditEntry.target.like(target.replace("*", "%")))
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    rows = (await session.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit))).scalars().all()
    return [entry_dict(r) for r in rows]


class AuditMiddleware:
    """Records successful mutating operator/admin requests that did not call :func:`audit` themselves.

    ``opt={"audit": "users"}`` on a high-volume integration route (ledger writes) records only requests made
    by console users, not by integration tokens; ``opt={"audit": "never"}`` turns it off for a route.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def receive_wrapper() -> Any:
            message = await receive()
            if message["type"] == "http.request" and sum(map(len, chunks)) <= MAX_BODY_IN_AUDIT:
                chunks.append(message.get("body", b""))
            return message

        async def send_wrapper(message: Any) -> None:
            # Recorded before the response leaves, so a client that saw 2xx can read its audit entry.
            if (
                message["type"] == "http.response.start"
                and 200 <= int(message["status"]) < 300
                and not scope.get(AUDITED_SCOPE_KEY)
            ):
                try:
                    await self._record(scope, int(message["status"]), chunks)
                except Exception:  # noqa: BLE001 - the action happened; a lost audit line is logged, not raised
                    log.exception("could not write the audit entry for %s %s", scope.get("method"), scope.get("path"))
            await send(message)

        await self.app(scope, receive_wrapper, send_wrapper)

    async def _record(self, scope: Any, status: int, chunks: list[bytes]) -> None:
        handler = scope.get("route_handler")
        principal = current_principal(scope)
        if handler is None:
            return
        mode = (handler.opt or {}).get("audit")
        role = declared_role(handler)
        if mode is None:
            mode = "always" if role not in (None, PUBLIC, Role.viewer) else "never"
        if (
            mode == "never"
            or mode == "explicit"
            or (mode == "users" and (principal is None or principal.kind != "user"))
        ):
            return
        hub = getattr(scope["app"].state, "hub", None)
        if hub is None:
            return
        path_template = scope.get("path_template") or scope.get("path", "")
        after: dict[str, Any] = {
            "status": status,
            "path": scope.get("path", ""),
            "path_params": {k: str(v) for k, v in (scope.get("path_params") or {}).items()},
        }
        raw = b"".join(chunks)
        if raw and len(raw) <= MAX_BODY_IN_AUDIT:
            try:
                after["request"] = redact(json.loads(raw))
            except ValueError:
                after["request_bytes"] = len(raw)
        async with hub.sessionmaker() as session, session.begin():
            await audit(
                session, principal, f"{scope.get('method')} {path_template}", scope.get("path", ""), None, after
            )
