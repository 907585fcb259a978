"""Start a sandbox on a loopback port: in a background thread (tests) or a subprocess (bench, demo).

::

    with run_sandbox(create_app(app_key="k", app_secret="s", access_token="t")) as base_url:
        httpx.get(f"{base_url}/_sandbox/stock")

    with run_sandbox_process("connectors.shopify.sandbox:create_app",
                             {"app_key": "k", "app_secret": "s", "access_token": "t"}) as base_url:
        ...

The subprocess entry point is ``python -m connectors.testing.sandbox_server APP --kwargs JSON``;
it prints ``LISTENING <url>`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import uvicorn

__all__ = ["run_sandbox", "run_sandbox_process"]

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _bind(host: str, port: int) -> socket.socket:
    if host not in _LOOPBACK:
        raise ValueError(f"sandboxes listen on loopback only, not {host!r}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def run_sandbox(app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve ``app`` (any ASGI app) with uvicorn in a daemon thread; yield its base URL."""
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="sandbox")
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("sandbox did not start")
        time.sleep(0.01)
    try:
        yield _url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()


@contextlib.contextmanager
def run_sandbox_process(
    factory: str, kwargs: Mapping[str, Any] | None = None, *, host: str = "127.0.0.1", port: int = 0,
    startup_timeout: float = 20.0,
) -> Iterator[str]:
    """Run ``factory`` (``"pkg.mod:create_app"``) with ``kwargs`` in a child Python; yield its base URL."""
    cmd = [sys.executable, "-m", "connectors.testing.sandbox_server", factory,
           "--kwargs", json.dumps(dict(kwargs or {})), "--host", host, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"sandbox process for {factory} did not start (said {line!r})")
        yield line.split(" ", 1)[1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=startup_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    from connectors.registry import load_object

    parser = argparse.ArgumentParser(description="serve a connector sandbox on loopback")
    parser.add_argument("factory", help="pkg.mod:create_app")
    parser.add_argument("--kwargs", default="{}", help="JSON keyword arguments for the factory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    app = load_object(args.factory)(**json.loads(args.kwargs))
    with run_sandbox(app, host=args.host, port=args.port) as url:
        print(f"LISTENING {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
