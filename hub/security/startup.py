"""What the API does for security when it starts: make sure an admin exists (best effort)."""

from __future__ import annotations

import logging
from typing import Any

from hub.security.users import ensure_admin

log = logging.getLogger("zhongshu.security")


async def security_startup(hub: Any) -> None:
    """Create the bootstrap admin if none exists. Never stops the API from starting (e.g. before migrations);
    the CLI calls :func:`~hub.security.users.ensure_admin` itself to print a generated password once."""
    try:
        async with hub.sessionmaker() as session, session.begin():
            await ensure_admin(session, hub.settings)
    except Exception as exc:  # noqa: BLE001 - reported; requests will fail with a clear error instead
        log.warning("could not check for an admin user at start-up: %s", exc)
