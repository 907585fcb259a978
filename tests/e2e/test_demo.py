"""`zhongshu up` end to end: the hub, every sandbox and demo traffic as real processes on free loopback
ports with a temporary var dir; an order made by a sandbox reaches the hub as a reservation, the console
answers, and SIGINT leaves no child process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.demo import catalog
from tests.support.hubserver import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads child processes from /proc")


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "up", "--port", str(port), "--sandbox-ports", "0",
             "--var-dir", str(tmp_path / "var"), "--interval", "0.2:0.5", "--snapshot-every", "5"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield proc, f"http://127.0.0.1:{port}", tmp_path
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _wait(probe, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 40.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"`zhongshu up` exited ({proc.returncode}) before {what}:\n{log.read_text()[-4000:]}")
        try:
            last = probe()
        except httpx.HTTPError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}\n{log.read_text()[-4000:]}")


def test_up_runs_the_demo_and_sigint_stops_every_child(demo: tuple[subprocess.Popen[bytes], str, Path]) -> None:
    proc, url, tmp = demo
    log = tmp / "demo.log"
    _wait(lambda: httpx.get(f"{url}/health", timeout=2).json().get("status") == "ok", "the hub's health", proc, log)
    token_file = tmp / "var" / "demo-token.txt"
    _wait(token_file.exists, "the supervisor's token file", proc, log)
    assert (tmp / "var" / "admin-password.txt").read_text().strip()
    assert (tmp / "var" / "zhongshu.db").exists()
    auth = {"Authorization": f"Bearer {token_file.read_text().strip()}"}

    def registered() -> set[str]:
        r = httpx.get(f"{url}/api/v1/sources", headers=auth, timeout=5)
        names = {x["name"] for x in r.json() if x["has_credentials"]} if r.status_code == 200 else set()
        return names if names == {d.source for d in catalog.DEMOS} else set()

    _wait(registered, "every demo source registered with credentials", proc, log)

    def reserved() -> dict[str, int]:
        out = {}
        for sku in catalog.SKUS:
            r = httpx.get(f"{url}/api/v1/stock/{sku}", headers=auth, timeout=5)
            if r.status_code == 200:
                out.update({f"{sku}:{b['account']}": b["qty"] for b in r.json()["balances"]
                            if b["account"].endswith("/reserved") and b["qty"] > 0})  # fmt: skip
        return out

    held = _wait(reserved, "an order from a sandbox reserved in the hub", proc, log)
    assert all(k.split(":", 1)[1] == f"{catalog.WAREHOUSE}/reserved" for k in held), held
    moves = httpx.get(f"{url}/api/v1/movements", params={"sku": next(iter(held)).split(":")[0]}, headers=auth).json()
    assert any(m["to"] == f"{catalog.WAREHOUSE}/reserved" for m in moves["movements"]), moves

    login = httpx.get(f"{url}/console/login", timeout=5)
    assert login.status_code == 200 and "password" in login.text.lower()

    kids = children_of(proc.pid)
    assert len(kids) >= len(catalog.DEMOS) + 1, kids  # every sandbox and the hub
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0, log.read_text()[-4000:]
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in kids if alive(pid)], "children left running after SIGINT"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=1)
