"""Start hub processes (``zhongshu serve``/``worker``) as real subprocesses and wait until they answer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.support.hubserver import free_port

ROOT = Path(__file__).resolve().parents[2]


def hub_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
    env.update({f"ZHONGSHU_{k.upper()}": v for k, v in settings.items()})
    return env


def zhongshu(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub.cli", *args]


@contextmanager
def serving(*, workers: int = 1, **settings: str) -> Iterator[str]:
    """``with serving(workers=2, database_url=…) as url:`` — the API in its own processes."""
    port = free_port()
    with log_file(f"serve-{port}") as err:
        proc = subprocess.Popen(
            zhongshu("serve", "--port", str(port), "--workers", str(workers)),
            env=hub_env(**settings),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        stop(proc)


def log_file(name: str) -> IO[bytes]:
    """Where a child's stderr goes: a file (a pipe nobody reads would block the child once full), kept
    under ``$TMPDIR/zhongshu-test-logs`` so a failing test's server log can be read afterwards."""
    folder = Path(tempfile.gettempdir()) / "zhongshu-test-logs"
    folder.mkdir(exist_ok=True)
    return open(folder / f"{name}-{os.getpid()}.log", "wb")


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hub exited with {proc.returncode}: {proc.args}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("hub did not become healthy")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
