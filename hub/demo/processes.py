"""Child processes of the demo: the sandboxes (``connectors.testing.sandbox_server``) and the hub
(``zhongshu serve``). Each child gets its own session, so a Ctrl-C in the terminal reaches only the
supervisor, which then stops them in order; on Linux each child is also told to die with its parent, so
killing the supervisor outright leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Child", "ChildError", "spawn", "spawn_sandbox", "stop_all", "wait_listening"]

_PR_SET_PDEATHSIG = 1


class ChildError(RuntimeError):
    """A child process did not start; the message names it and what it said."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[str]
    url: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid


def _detach() -> None:  # runs in the child between fork and exec
    os.setsid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


def spawn(name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
          capture_stdout: bool = False) -> Child:  # fmt: skip
    """Start ``argv`` in its own session (call from the main thread: the parent-death signal is per thread)."""
    proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, text=True,
                            stdout=subprocess.PIPE if capture_stdout else None, stdin=subprocess.DEVNULL,
                            preexec_fn=_detach if os.name == "posix" else None)  # fmt: skip
    return Child(name, proc)


def spawn_sandbox(name: str, factory: str, kwargs: Mapping[str, Any], *, port: int, host: str = "127.0.0.1") -> Child:
    quiet = ("import logging; logging.getLogger('httpx').setLevel(logging.WARNING); "  # no line per push
             "from connectors.testing.sandbox_server import main; main()")
    argv = [sys.executable, "-c", quiet, factory,
            "--kwargs", json.dumps(dict(kwargs)), "--host", host, "--port", str(port)]  # fmt: skip
    return spawn(name, argv, capture_stdout=True)


def wait_listening(children: Sequence[Child], timeout: float = 60.0) -> None:
    """Read each sandbox's ``LISTENING <url>`` line (they start in parallel); ChildError names any that failed."""
    lines: dict[str, str] = {}

    def read(child: Child) -> None:
        assert child.proc.stdout is not None
        lines[child.name] = child.proc.stdout.readline()

    threads = [threading.Thread(target=read, args=(c,), daemon=True) for c in children]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    failed = []
    for child in children:
        line = lines.get(child.name, "")
        if line.startswith("LISTENING "):
            child.url = line.split(" ", 1)[1].strip()
        else:
            code = child.proc.poll()
            failed.append(f"{child.name} ({'exited with ' + str(code) if code is not None else 'no answer'}"
                          f"{': said ' + repr(line.strip()) if line.strip() else ''})")  # fmt: skip
    if failed:
        raise ChildError("sandbox(es) did not start: " + "; ".join(failed) +
                         " — is the port taken? choose others with --sandbox-ports (0: any free port)")  # fmt: skip


def stop_all(children: Sequence[Child], timeout: float = 10.0) -> None:
    """SIGTERM every child, wait for all, SIGKILL whatever is still there after ``timeout``."""
    for child in children:
        if child.proc.poll() is None:
            try:
                child.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait()
        if child.proc.stdout is not None:
            child.proc.stdout.close()
