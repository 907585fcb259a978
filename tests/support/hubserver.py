"""Run the real hub app under uvicorn on a free loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn

from hub.api.app import create_app
from hub.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HubServer:
    """``with HubServer(settings) as server: httpx.get(server.url + '/health')``"""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.settings = settings.model_copy(update={"port": self.port})
        self.app = create_app(self.settings)
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._tokens: dict[str, str] = {}

    @property
    def hub(self):  # type: ignore[no-untyped-def]
        return self.app.state.hub

    def token(self, role: str = "admin") -> str:
        """A bearer token of ``role`` for this hub's database (one per role, issued on first use)."""
        from tests.support.auth import token_for

        if role not in self._tokens:
            self._tokens[role] = token_for(self.settings, role)
        return self._tokens[role]

    @property
    def auth(self) -> dict[str, str]:
        """Headers of an admin API token."""
        return {"Authorization": f"Bearer {self.token('admin')}"}

    def __enter__(self) -> HubServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("hub did not start")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        if self._thread.is_alive():  # a starved machine: stop waiting for open connections, as a second Ctrl-C does
            self._server.force_exit = True
            self._thread.join(timeout=10)
