"""Security administration: who am I, users, API tokens, connector credentials, the audit log."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import Provide
from litestar.params import Parameter
from msgspec import Meta

from hub.api.deps import provide_hub, provide_uow
from hub.bootstrap import Hub
from hub.domain.errors import InvalidRequest, NotFound
from hub.security import Role, audit, current_principal, encrypt, requires
from hub.security import sessions as session_store
from hub.security import tokens as token_store
from hub.security import users as user_store
from hub.security.audit import list_entries
from hub.services.uow import UnitOfWork
from hub.storage.models import Source

RoleName = Annotated[str, Meta(pattern="^(viewer|operator|admin)$")]


class UserIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, Meta(min_length=1, max_length=100)]
    password: Annotated[str, Meta(min_length=1, max_length=500)]
    role: RoleName


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    role: RoleName | None = None
    password: Annotated[str, Meta(min_length=1, max_length=500)] | None = None
    disabled: bool | None = None


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")]
    role: RoleName
    expires_in_days: Annotated[float, Meta(gt=0, le=3650)] | None = 90
    """Days until the token stops working; null for no expiry."""


class CredentialsIn(msgspec.Struct, forbid_unknown_fields=True):
    credentials: dict[str, Any]
    """Connector credentials (app key/secret, access token…); stored encrypted, never returned."""


class AdminController(Controller):
    path = "/api/v1"
    tags = ["security"]
    dependencies = {"uow": Provide(provide_uow), "hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/me", summary="Who is calling, with which role", guards=[requires(Role.viewer)])
    async def me(self, request: Request) -> dict[str, Any]:
        p = current_principal(request)
        assert p is not None
        return {"id": p.id, "name": p.name, "role": p.role.value, "kind": p.kind}

    @get("/users", summary="Console users", guards=[requires(Role.admin)])
    async def list_users(self, hub: Hub) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from hub.storage.models_security import User

        async with hub.sessionmaker() as session:
            return [user_store.user_dict(u) for u in (await session.execute(select(User).order_by(User.id))).scalars()]

    @post(
        "/users",
        status_code=201,
        summary="Create a console user",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def create_user(self, data: UserIn, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        row = await user_store.create_user(uow.session, data.username, data.password, data.role)
        out = user_store.user_dict(row)
        await audit(
            uow.session, current_principal(request), "user.create", f"user:{row.id}", None, out, request=request
        )
        await uow.commit()
        return out

    @patch(
        "/users/{user_id:int}",
        summary="Change a user's role, password or disabled flag",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def update_user(self, user_id: int, data: UserPatch, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        row = await user_store.get_user(uow.session, user_id)
        before = user_store.user_dict(row)
        await user_store.update_user(uow.session, row, role=data.role, password=data.password, disabled=data.disabled)
        if data.disabled or data.password is not None or (data.role and data.role != before["role"]):
            await session_store.end_user_sessions(uow.session, row.id)  # changed rights take effect at once
        after = user_store.user_dict(row)
        detail = "password changed" if data.password is not None else ""
        await audit(
            uow.session,
            current_principal(request),
            "user.update",
            f"user:{row.id}",
            before,
            after,
            detail=detail,
            request=request,
        )
        await uow.commit()
        return after

    @get("/tokens", summary="API tokens (never the token itself)", guards=[requires(Role.admin)])
    async def list_tokens(self, hub: Hub) -> list[dict[str, Any]]:
        async with hub.sessionmaker() as session:
            return await token_store.list_tokens(session)

    @post(
        "/tokens",
        status_code=201,
        summary="Create an API token; the response is the only time it is shown",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def create_token(self, data: TokenIn, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        principal = current_principal(request)
        expires = timedelta(days=data.expires_in_days) if data.expires_in_days else None
        issued = await token_store.issue_token(
            uow.session, data.name, data.role, expires_in=expires, created_by=principal.id if principal else ""
        )
        await audit(uow.session, principal, "token.create", f"token:{issued.id}", None, issued.info, request=request)
        await uow.commit()
        return {**issued.info, "token": issued.token}

    @delete(
        "/tokens/{token_id:int}",
        status_code=200,
        summary="Revoke an API token",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def revoke_token(self, token_id: int, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        out = await token_store.revoke_token(uow.session, token_id)
        await audit(
            uow.session, current_principal(request), "token.revoke", f"token:{token_id}", None, out, request=request
        )
        await uow.commit()
        return out

    @put(
        "/sources/{source:str}/credentials",
        summary="Set a source's connector credentials (stored encrypted)",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def set_credentials(
        self, source: str, data: CredentialsIn, uow: UnitOfWork, hub: Hub, request: Request
    ) -> dict[str, Any]:
        row = await uow.session.get(Source, source)
        if row is None:
            raise NotFound(f"no source {source!r}")
        if not data.credentials:
            raise InvalidRequest("credentials must not be empty", field="credentials")
        had = row.credentials is not None
        row.credentials = encrypt(hub.settings, json.dumps(data.credentials).encode())
        await audit(
            uow.session,
            current_principal(request),
            "source.credentials.set",
            f"source:{source}",
            {"has_credentials": had},
            {"has_credentials": True, "fields": sorted(data.credentials)},
            request=request,
        )
        await uow.commit()
        return {"source": source, "has_credentials": True, "fields": sorted(data.credentials)}

    @delete(
        "/sources/{source:str}/credentials",
        status_code=200,
        summary="Remove a source's connector credentials",
        guards=[requires(Role.admin)],
        opt={"audit": "explicit"},
    )
    async def clear_credentials(self, source: str, uow: UnitOfWork, request: Request) -> dict[str, Any]:
        row = await uow.session.get(Source, source)
        if row is None:
            raise NotFound(f"no source {source!r}")
        had = row.credentials is not None
        row.credentials = None
        await audit(
            uow.session,
            current_principal(request),
            "source.credentials.clear",
            f"source:{source}",
            {"has_credentials": had},
            {"has_credentials": False},
            request=request,
        )
        await uow.commit()
        return {"source": source, "has_credentials": False}

    @get("/audit", summary="The audit log, newest first", guards=[requires(Role.admin)])
    async def audit_log(
        self,
        hub: Hub,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        before_id: Annotated[int | None, Parameter(query="before_id", gt=0, le=2**63 - 1)] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        async with hub.sessionmaker() as session:
            entries = await list_entries(
                session, actor=actor, action=action, target=target, before_id=before_id, limit=limit
            )
        next_before = entries[-1]["id"] if len(entries) == limit else None
        return {"entries": entries, "next_before_id": next_before}
