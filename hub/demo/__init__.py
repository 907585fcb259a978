"""The embedded demo behind ``zhongshu up`` / ``make run``: the hub, every connector's sandbox as a demo
shop or system registered as a source, and gentle traffic between them.

::

    from hub.demo import DemoOptions, run_demo
    exit_code = run_demo(settings, DemoOptions(sandbox_port=8101), console)
"""

from __future__ import annotations

from hub.demo.supervisor import DEFAULT_SANDBOX_PORT, DemoError, DemoOptions, run_demo

__all__ = ["DEFAULT_SANDBOX_PORT", "DemoError", "DemoOptions", "run_demo"]
