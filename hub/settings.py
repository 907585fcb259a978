"""One typed settings object, built once from ``ZHONGSHU_*`` env vars and an optional ``zhongshu.toml``.

Every other module receives a :class:`Settings`; nothing reads ``os.environ`` directly, so tests can build
their own settings and a misconfigured deployment fails at start with the name of the bad setting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

DEFAULT_VAR_DIR = Path("var")


class SettingsError(Exception):
    """Raised when settings are invalid; the message names each bad setting."""


class Settings(BaseSettings):
    """Hub configuration.

    Example::

        ZHONGSHU_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/zhongshu \\
        ZHONGSHU_REDIS_URL=redis://127.0.0.1:6379/0 zhongshu serve --workers 2
    """

    model_config = SettingsConfigDict(env_prefix="ZHONGSHU_", toml_file="zhongshu.toml", extra="forbid")

    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_VAR_DIR}/zhongshu.db"
    """SQLAlchemy async URL. SQLite (embedded default) or ``postgresql+asyncpg://…`` (production)."""

    redis_url: str | None = None
    """Redis for arq jobs. Unset: jobs run in-process (embedded mode)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    var_dir: Path = DEFAULT_VAR_DIR
    """Where the embedded database, generated keys and sandbox state live."""

    guarded_buckets: list[str] = ["free"]
    """Ledger buckets that may never go below zero. ``free`` always is."""

    default_location: str = "WH-MAIN"
    """Where orders reserve stock when neither the order line nor the channel names a warehouse."""

    poll_interval_seconds: float = Field(default=2.0, gt=0)
    """How often sources that poll (JD orders, Taobao TMC) are asked for new events."""

    reconcile_interval_seconds: float = Field(default=300.0, gt=0)
    """How often every channel's stock is read back and compared with what it should show."""

    reservation_sweep_seconds: float = Field(default=1.0, gt=0)
    """How often expired reservations are released."""

    job_max_attempts: int = Field(default=8, ge=1)
    job_stuck_after_seconds: float = Field(default=60.0, gt=0)
    """A job claimed this long ago without finishing is considered lost (its worker died) and is re-run."""

    run_jobs_in_api: bool | None = None
    """Run the in-process job runner inside the API process. Default: yes when no Redis is configured."""

    log_level: str = "INFO"
    db_pool_size: int = Field(default=10, ge=1)

    # --- security (hub/security) ---
    admin_password: SecretStr | None = None
    """Password of the bootstrap ``admin`` user, created when no admin exists. Embedded mode, unset: one is
    generated into ``var/admin-password.txt``."""
    secret_key: SecretStr | None = None
    """Fernet key (urlsafe base64, 32 bytes) that encrypts connector credentials and webhook secrets at rest.
    Unset: generated into ``var/secret.key`` on first use."""
    secret_keys_previous: list[SecretStr] = []
    """Earlier keys, still accepted for decryption until ``zhongshu secrets rotate-key`` re-encrypts everything."""
    session_ttl_seconds: float = Field(default=12 * 3600, gt=0)
    """Console log-in sessions expire this long after creation."""
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window_seconds: float = Field(default=15 * 60, gt=0)
    login_lockout_seconds: float = Field(default=5 * 60, gt=0)
    """This many wrong passwords for one username within the window lock it for the lock-out (doubling each time)."""
    inbound_rate_per_second: float = Field(default=1000.0, gt=0)
    inbound_burst: int = Field(default=2000, ge=1)
    """Per-source token bucket for ``/webhooks/*``: sustained rate and burst size; over it answers 429."""

    # --- outbound webhooks (hub/outbound) ---
    webhook_allow: list[str] = []
    """CIDRs / IPs / host names that outbound webhooks may reach although private or loopback (SSRF allow-list)."""
    webhook_retry_delays: list[float] | None = None
    """Seconds between delivery attempts; unset: the Standard Webhooks default (about 27.6 h over 8 attempts)."""
    webhook_retry_jitter: float = Field(default=0.2, ge=0, lt=1)
    webhook_disable_after_seconds: float = Field(default=5 * 24 * 3600, gt=0)
    """A subscription whose every delivery failed for this long is disabled (and ``subscription.disabled`` raised)."""
    webhook_secret_overlap_seconds: float = Field(default=24 * 3600, ge=0)
    """After a secret rotation the old secret keeps signing for this long."""
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)

    # --- warehouse (hub/warehouse) ---
    near_expiry_days: int = Field(default=30, ge=0)
    """A batch expiring within this many days is flagged ``near_expiry`` in ``/api/v1/stock/{sku}/batches``."""

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("guarded_buckets")
    @classmethod
    def _free_is_guarded(cls, value: list[str]) -> list[str]:
        return sorted({*value, "free"})

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def jobs_in_process(self) -> bool:
        return self.redis_url is None if self.run_jobs_in_api is None else self.run_jobs_in_api

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("ZHONGSHU_CONFIG", "zhongshu.toml")
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's error into one line per bad setting (``ZHONGSHU_PORT: …``)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"ZHONGSHU_{name.upper()}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None
