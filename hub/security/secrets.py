"""Secrets at rest: Fernet (AES-128-CBC + HMAC) with a key from ``ZHONGSHU_SECRET_KEY``.

Every blob names the key that sealed it — ``zsk1:<key id>:<fernet token>`` — so after a key change the old
key is looked up by id (``ZHONGSHU_SECRET_KEYS_PREVIOUS``) and ``zhongshu secrets rotate-key`` can find and
re-seal every blob under the current key. In embedded mode without the setting, the key is generated into
``var/secret.key`` on first use (earlier embedded keys stay in ``var/secret.key.previous``).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from hub.settings import Settings

log = logging.getLogger("zhongshu.security")
MAGIC = b"zsk1:"
KEY_FILE = "secret.key"
PREVIOUS_FILE = "secret.key.previous"


class SecretError(Exception):
    """A blob that cannot be decrypted: unknown key id (set ZHONGSHU_SECRET_KEYS_PREVIOUS) or tampered data."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def by_id(self) -> dict[str, bytes]:
        return {key_id(k): k for k in (*self.previous, self.current)}


def _valid(key: bytes, origin: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecretError(
            f"{origin} is not a Fernet key (32 url-safe base64 bytes; `zhongshu secrets generate-key`)"
        ) from None
    return key


def _read_lines(path: Path) -> list[bytes]:
    return [line.strip().encode() for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _key_file(settings: Settings) -> bytes:
    path = settings.var_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; read its key
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key() + b"\n")
            if not settings.is_sqlite:
                log.warning("ZHONGSHU_SECRET_KEY is unset: generated %s; set the variable in production", path)
    return _valid(path.read_bytes().strip(), str(path))


_CACHE: dict[tuple[str, str, str], Keyring] = {}


def keyring(settings: Settings) -> Keyring:
    previous = tuple(
        _valid(k.get_secret_value().encode(), "ZHONGSHU_SECRET_KEYS_PREVIOUS entry")
        for k in settings.secret_keys_previous
    )
    if settings.secret_key is not None:
        cache_key = (settings.secret_key.get_secret_value(), str(settings.var_dir), repr(previous))
        if cache_key not in _CACHE:
            current = _valid(settings.secret_key.get_secret_value().encode(), "ZHONGSHU_SECRET_KEY")
            _CACHE[cache_key] = Keyring(current, previous + tuple(_read_lines(settings.var_dir / PREVIOUS_FILE)))
        return _CACHE[cache_key]
    current = _key_file(settings)
    return Keyring(current, previous + tuple(_read_lines(settings.var_dir / PREVIOUS_FILE)))


def encrypt(settings: Settings, plaintext: bytes) -> bytes:
    ring = keyring(settings)
    return MAGIC + ring.current_id.encode() + b":" + Fernet(ring.current).encrypt(plaintext)


def blob_key_id(blob: bytes) -> str | None:
    if not blob.startswith(MAGIC):
        return None
    return blob[len(MAGIC) :].split(b":", 1)[0].decode("ascii", "replace")


def decrypt(settings: Settings, blob: bytes) -> bytes:
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise SecretError("encrypted value must be bytes")
    blob = bytes(blob)
    kid = blob_key_id(blob)
    if kid is None:
        raise SecretError("not an encrypted secret (missing zsk1: prefix)")
    key = keyring(settings).by_id().get(kid)
    if key is None:
        raise SecretError(
            f"secret was encrypted with key {kid}, which is not configured (add it to ZHONGSHU_SECRET_KEYS_PREVIOUS)"
        )
    try:
        return Fernet(key).decrypt(blob[len(MAGIC) + len(kid) + 1 :])
    except InvalidToken:
        raise SecretError(f"secret under key {kid} failed its integrity check") from None


def reseal(settings: Settings, blob: bytes) -> bytes | None:
    """The blob under the current key, or None when it already is."""
    if blob_key_id(bytes(blob)) == keyring(settings).current_id:
        return None
    return encrypt(settings, decrypt(settings, blob))


def new_embedded_key(settings: Settings) -> str:
    """Embedded-mode rotation: move ``var/secret.key`` to the previous list and generate a new one."""
    path = settings.var_dir / KEY_FILE
    old = path.read_bytes().strip() if path.exists() else None
    if old:
        with (settings.var_dir / PREVIOUS_FILE).open("ab") as fh:
            fh.write(old + b"\n")
        os.chmod(settings.var_dir / PREVIOUS_FILE, 0o600)
        path.unlink()
    _CACHE.clear()
    return key_id(_key_file(settings))
