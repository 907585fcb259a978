"""Secrets at rest: Fernet with a key id in every blob, key rotation that re-seals everything, and no secret
in any API response or log line."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from hub.outbound import subscriptions as subs
from hub.security import SecretError, decrypt, encrypt
from hub.security.secrets import blob_key_id, key_id
from hub.settings import Settings
from hub.storage.engine import make_engine, make_sessionmaker
from hub.storage.migrate import upgrade
from hub.storage.models import Source
from hub.storage.models_outbound import WebhookSubscription


def test_roundtrip_names_the_key_and_detects_tampering(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    settings = Settings(secret_key=key, var_dir=tmp_path)
    blob = encrypt(settings, b"app-secret-123")
    assert blob.startswith(b"zsk1:" + key_id(key.encode()).encode() + b":")
    assert b"app-secret-123" not in blob
    assert decrypt(settings, blob) == b"app-secret-123"
    with pytest.raises(SecretError, match="integrity"):
        decrypt(settings, blob[:-3] + b"AAA")
    with pytest.raises(SecretError, match="not configured"):
        decrypt(Settings(secret_key=Fernet.generate_key().decode(), var_dir=tmp_path), blob)


def test_embedded_key_is_generated_once(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    blob = encrypt(settings, b"x")
    assert (tmp_path / "secret.key").exists()
    assert decrypt(Settings(var_dir=tmp_path), blob) == b"x"


def test_bad_key_setting_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="ZHONGSHU_SECRET_KEY"):
        encrypt(Settings(secret_key="not-a-key", var_dir=tmp_path), b"x")


async def test_rotate_key_reseals_every_stored_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    db = f"sqlite+aiosqlite:///{tmp_path}/rot.db"
    before = Settings(database_url=db, secret_key=old, var_dir=tmp_path)
    await upgrade(before)
    engine = make_engine(before)
    sm = make_sessionmaker(engine)
    async with sm() as session, session.begin():
        session.add(
            Source(
                name="taobao_shop1",
                platform="taobao",
                credentials=encrypt(before, json.dumps({"app_secret": "s3cr3t"}).encode()),
            )
        )
        _, whsec = await subs.create(
            session,
            before.model_copy(update={"webhook_allow": ["127.0.0.1"]}),
            url="http://127.0.0.1:9/x",
            event_types=["stock.changed"],
        )

    from hub.cli_security import secrets_app

    env = {
        "ZHONGSHU_DATABASE_URL": db,
        "ZHONGSHU_SECRET_KEY": new,
        "ZHONGSHU_SECRET_KEYS_PREVIOUS": json.dumps([old]),
        "ZHONGSHU_VAR_DIR": str(tmp_path),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = await asyncio.to_thread(CliRunner().invoke, secrets_app, ["rotate-key"])
    assert result.exit_code == 0, result.output
    assert '"source_credentials": 1' in result.output and '"subscription_secrets": 1' in result.output

    only_new = Settings(database_url=db, secret_key=new, var_dir=tmp_path)
    async with sm() as session:
        src = await session.get(Source, "taobao_shop1")
        sub = (await session.execute(select(WebhookSubscription))).scalar_one()
    assert blob_key_id(src.credentials) == blob_key_id(sub.secrets) == key_id(new.encode())
    assert json.loads(decrypt(only_new, src.credentials)) == {"app_secret": "s3cr3t"}
    assert subs.signing_secrets(only_new, sub) == [whsec]
    await engine.dispose()


def test_credentials_never_returned_or_logged(hub_server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    name = f"jd_{uuid.uuid4().hex[:8]}"
    secret = f"jd-app-secret-{uuid.uuid4().hex}"
    admin = hub_server.auth
    assert (
        httpx.post(hub_server.url + "/api/v1/sources", headers=admin, json={"name": name, "platform": "jd"}).status_code
        == 201
    )
    r = httpx.put(
        f"{hub_server.url}/api/v1/sources/{name}/credentials",
        headers=admin,
        json={"credentials": {"app_key": "k1", "app_secret": secret}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["has_credentials"] is True
    texts = [r.text] + [
        httpx.get(hub_server.url + u, headers=admin).text for u in ("/api/v1/sources", "/api/v1/audit?limit=500")
    ]
    for text in texts:
        assert secret not in text
    assert secret not in caplog.text
    assert hub_server.token("admin") not in caplog.text
    audit = httpx.get(hub_server.url + "/api/v1/audit", headers=admin, params={"target": f"source:{name}"}).json()
    assert audit["entries"][0]["action"] == "source.credentials.set"
    assert audit["entries"][0]["after"]["fields"] == ["app_key", "app_secret"]
