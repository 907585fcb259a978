"""Pinning the IP must not weaken TLS: SNI and the certificate check still use the URL's name."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webhooks.outbound.ssrf import SSRFGuard, SSRFPolicy, guarded_client

from .conftest import Receiver, RecordingBackend, StubResolver, serve


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
async def tls_receiver(tmp_path: Path) -> AsyncIterator[tuple[Receiver, int, ssl.SSLContext]]:
    cert, key = self_signed(tmp_path, "receiver.test")
    app = Receiver()
    async for port in serve(app, ssl_certfile=str(cert), ssl_keyfile=str(key)):
        yield app, port, ssl.create_default_context(cafile=str(cert))


async def test_tls_uses_the_name_for_sni_and_certificate_while_dialling_the_pinned_ip(
    tls_receiver: tuple[Receiver, int, ssl.SSLContext], recording: RecordingBackend
) -> None:
    app, port, trust = tls_receiver
    resolver = StubResolver({"receiver.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]})
    guard = SSRFGuard(SSRFPolicy.from_allow_list(["127.0.0.1"]), resolver=resolver)
    async with guarded_client(guard, verify=trust, network_backend=recording) as client:
        good = await client.post(f"https://receiver.test:{port}/hook", content=b"{}")
        with pytest.raises(httpx.ConnectError, match="(?i)certificate|hostname"):
            await client.post(f"https://wrong.test:{port}/hook", content=b"{}")
    assert good.status_code == 200
    assert app.seen[0].headers["host"] == f"receiver.test:{port}"
    assert recording.attempts == [("127.0.0.1", port), ("127.0.0.1", port)]
