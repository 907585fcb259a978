"""The real hub in production mode for a fault campaign: a fresh PostgreSQL database, a dedicated Redis
db index, two API processes (``zhongshu serve --workers 1`` on two ports) and two arq workers.

Every process is started in its own session so ``kill -9`` of one takes exactly that process; the stack
keeps the handles, restarts what it killed, and stops everything it started (also when the run fails).
The database gets one audit trigger the hub does not have: it records any guarded ``free`` balance that
goes below zero at any moment, so "never went negative" is checked on the real history, not a replay.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import redis.asyncio as aioredis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
DB_DOWN: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                                            asyncpg.exceptions._base.InternalClientError)
"""What a check's connection raises while PostgreSQL restarts (a connection cut mid-query can leave asyncpg's
protocol in an internal-error state): the check is retried at the next step."""
PLANTS_DIR = ROOT / "tests" / "chaos" / "plants"
PG_ADMIN = os.environ.get("ZHONGSHU_TEST_PG", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
REDIS_HOST = os.environ.get("ZHONGSHU_CHAOS_REDIS", "redis://127.0.0.1:6379")
PG_CLUSTER = os.environ.get("ZHONGSHU_CHAOS_PG_CLUSTER", "main")
"""The Debian cluster (``pg_ctlcluster VERSION NAME``) behind ZHONGSHU_TEST_PG, restarted by ``pg_restart``: a
soak can run on a cluster of its own while the test suite uses ``main``."""
STUCK_AFTER_SECONDS = 3.0
"""Jobs claimed by a killed worker are re-armed after this long (the default 60 s would dominate every run)."""

VOUCHERS_YAML = "gap_grace_seconds: 1.0\nretry_base_seconds: 0.2\nlease_seconds: 5\n"

AUDIT_SQL = """
CREATE TABLE IF NOT EXISTS chaos_negative (id bigserial PRIMARY KEY, sku text, account text, qty bigint,
                                           at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION chaos_guard() RETURNS trigger AS $$
BEGIN
  IF NEW.qty < 0 AND NEW.account LIKE '%/free' THEN
    INSERT INTO chaos_negative (sku, account, qty) VALUES (NEW.sku, NEW.account, NEW.qty);
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS chaos_guard ON balances;
CREATE TRIGGER chaos_guard AFTER INSERT OR UPDATE ON balances FOR EACH ROW EXECUTE FUNCTION chaos_guard();
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def asyncpg_dsn(db: str) -> str:
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{db}"


@dataclass
class Proc:
    name: str
    kind: str  # "api" | "worker"
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


@dataclass
class Stack:
    """``async with Stack(redis_db=11) as stack:`` — everything started is stopped on exit."""

    redis_db: int = 11
    plant: str | None = None
    pg_fault: str = "restart"  # or "terminate": only kill the hub's backend connections
    db_name: str = field(default_factory=lambda: f"zhongshu_chaos_{os.getpid()}_{secrets.token_hex(3)}")
    procs: dict[str, Proc] = field(default_factory=dict)
    token: str = ""
    keep: bool = False
    schema_gaps: list[str] = field(default_factory=list)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="zhongshu-chaos-")))
    secret_key: str = field(default_factory=lambda: Fernet.generate_key().decode())

    @property
    def database_url(self) -> str:
        return asyncpg_dsn(self.db_name).replace("postgresql://", "postgresql+asyncpg://")

    @property
    def redis_url(self) -> str:
        return f"{REDIS_HOST}/{self.redis_db}"

    @property
    def api_urls(self) -> list[str]:
        return [p.url for p in self.procs.values() if p.kind == "api"]

    def settings(self):  # type: ignore[no-untyped-def]
        from hub.settings import Settings

        return Settings(database_url=self.database_url, redis_url=self.redis_url, secret_key=self.secret_key,
                        var_dir=self.workdir)  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
        env.update({
            "ZHONGSHU_DATABASE_URL": self.database_url, "ZHONGSHU_REDIS_URL": self.redis_url,
            "ZHONGSHU_SECRET_KEY": self.secret_key, "ZHONGSHU_ADMIN_PASSWORD": "chaos-" + secrets.token_hex(8),
            "ZHONGSHU_VAR_DIR": str(self.workdir), "ZHONGSHU_LOG_LEVEL": "WARNING",
            "ZHONGSHU_JOB_STUCK_AFTER_SECONDS": str(STUCK_AFTER_SECONDS), "ZHONGSHU_DB_POOL_SIZE": "5",
            # outbound webhooks reach the campaign's subscriber on loopback, retried on a short schedule
            "ZHONGSHU_WEBHOOK_ALLOW": '["127.0.0.1"]', "ZHONGSHU_WEBHOOK_RETRY_DELAYS": "[0.2, 0.5, 1, 1, 2, 2, 3]",
        })  # fmt: skip
        if self.plant:
            env["CHAOS_PLANT"] = self.plant
            env["PYTHONPATH"] = os.pathsep.join([str(PLANTS_DIR), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env

    # -- lifecycle ----------------------------------------------------------------------------------
    async def __aenter__(self) -> Stack:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            await conn.close()
        from hub.storage.migrate import upgrade

        await upgrade(self.settings())
        self.schema_gaps = await self._fill_schema_gaps()
        conn = await asyncpg.connect(asyncpg_dsn(self.db_name))
        try:
            await conn.execute(AUDIT_SQL)
        finally:
            await conn.close()
        await self.flush_redis()
        # vouchers: a rolled-back movement id is waited for 1 s (not 10), a failed post retried after 0.2 s
        (self.workdir / "vouchers.yaml").write_text(VOUCHERS_YAML, encoding="utf-8")
        self.token = await self._issue_token()
        for i in range(2):
            self.procs[f"api{i}"] = Proc(f"api{i}", "api", port=free_port())
            self.procs[f"worker{i}"] = Proc(f"worker{i}", "worker")
        for proc in self.procs.values():
            self._spawn(proc)
        await asyncio.gather(*(self.wait_ready(p) for p in self.procs.values()))

    async def _fill_schema_gaps(self) -> list[str]:
        """Tables the models declare but the migrations did not create (work in progress elsewhere in the
        tree). They are created so the campaign can run, and reported on every table it prints."""
        from sqlalchemy import inspect

        from hub.storage.engine import make_engine
        from hub.storage.models import Base

        engine = make_engine(self.settings())
        try:
            async with engine.begin() as conn:
                present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
                missing = sorted(set(Base.metadata.tables) - present)
                if missing:
                    await conn.run_sync(Base.metadata.create_all)
            return missing
        finally:
            await engine.dispose()

    async def _issue_token(self) -> str:
        from hub.security import Role, issue_token
        from hub.storage.engine import make_engine, make_sessionmaker

        engine = make_engine(self.settings())
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return (await issue_token(session, "chaos-runner", Role.admin)).token
        finally:
            await engine.dispose()

    def _spawn(self, proc: Proc) -> None:
        args = ["serve", "--port", str(proc.port), "--workers", "1", "--no-migrate"] if proc.kind == "api" else [
            "worker", "--max-jobs", "10"]  # fmt: skip
        proc.log_path = self.workdir / f"{proc.name}.log"
        log = open(proc.log_path, "ab")  # noqa: SIM115 - handed to the child
        proc.popen = subprocess.Popen([sys.executable, "-m", "hub.cli", *args], env=self.env(), cwd=ROOT,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        log.close()

    async def wait_ready(self, proc: Proc, timeout: float = 60.0) -> float:
        """Seconds until the process serves (API: /health 200; worker: it has connected to Redis)."""
        started = time.monotonic()
        deadline = started + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited: {self.tail(proc)}")
                if proc.kind == "api":
                    try:
                        if (await client.get(proc.url + "/health")).status_code == 200:
                            return time.monotonic() - started
                    except httpx.HTTPError:
                        pass
                elif await self._worker_connected(proc):
                    return time.monotonic() - started
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{proc.name} not ready after {timeout}s: {self.tail(proc)}")

    async def _worker_connected(self, proc: Proc) -> bool:
        """The worker polls Redis and its sweep has reached PostgreSQL: it is running jobs."""
        import psutil

        assert proc.popen is not None
        try:
            conns = psutil.Process(proc.popen.pid).net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False
        ports = {c.raddr.port for c in conns if c.raddr and c.status == psutil.CONN_ESTABLISHED}
        return {urlsplit(REDIS_HOST).port or 6379, urlsplit(PG_ADMIN).port or 5432} <= ports

    def tail(self, proc: Proc, n: int = 2000) -> str:
        try:
            return proc.log_path.read_text(errors="replace")[-n:] if proc.log_path else ""
        except OSError:
            return ""

    async def stop(self) -> None:
        for proc in self.procs.values():
            self._terminate(proc)
        if self.keep:
            print(f"kept database {self.db_name} and logs in {self.workdir}")
            return
        try:
            conn = await asyncpg.connect(PG_ADMIN)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
            finally:
                await conn.close()
        except Exception:  # noqa: BLE001 - best effort; PostgreSQL may be restarting
            pass
        try:
            await self.flush_redis()
        except Exception:  # noqa: BLE001
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def _terminate(proc: Proc) -> None:
        if proc.popen is None or proc.popen.poll() is not None:
            return
        try:
            os.killpg(proc.popen.pid, signal.SIGTERM)
            proc.popen.wait(timeout=10)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait()

    # -- faults -------------------------------------------------------------------------------------
    def kill(self, name: str) -> None:
        """``kill -9`` the process (its whole session: uvicorn or the arq worker)."""
        proc = self.procs[name]
        if proc.popen is not None and proc.popen.poll() is None:
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.popen.wait()

    async def restart(self, name: str) -> float:
        """Start the process again unless another restart already did (two kills of one process in a seed
        used to spawn it twice, and the first copy outlived the stack)."""
        proc = self.procs[name]
        if not proc.alive():
            self._spawn(proc)
        return await self.wait_ready(proc)

    async def flush_redis(self) -> None:
        r = aioredis.from_url(self.redis_url)
        try:
            await r.flushdb()
        finally:
            await r.aclose()

    async def pg_outage(self) -> str:
        """Restart the PostgreSQL cluster, or terminate the hub's backends; returns what was done."""
        if self.pg_fault == "restart":
            version = sorted(os.listdir("/etc/postgresql"))[-1]
            proc = await asyncio.create_subprocess_exec(
                "pg_ctlcluster", "--skip-systemctl-redirect", version, PG_CLUSTER, "restart",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)  # fmt: skip
            _, err = await asyncio.wait_for(proc.communicate(), 60)
            if proc.returncode != 0:
                raise RuntimeError(f"pg_ctlcluster restart failed: {err.decode(errors='replace')}")
            await self._wait_pg()
            return "restart"
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            n = await conn.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE datname = $1 AND pid <> pg_backend_pid()", self.db_name)  # fmt: skip
        finally:
            await conn.close()
        return f"terminate {n}"

    async def _wait_pg(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(asyncpg_dsn(self.db_name), timeout=2)
                await conn.close()
                return
            except DB_DOWN:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def db(self) -> asyncpg.Connection:
        """A fresh connection (the runner's checks survive a PostgreSQL restart by reconnecting)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return await asyncpg.connect(asyncpg_dsn(self.db_name), timeout=5)
            except DB_DOWN:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
