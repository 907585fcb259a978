"""TMS / parcel tracking connector (Kuaidi100 快递100): ``TmsConnector(config)``."""

from __future__ import annotations

from .connector import TmsConnector
from .tracking import STATE_NAMES, Tracking, TrackNode, parse_result

__all__ = ["STATE_NAMES", "TmsConnector", "TrackNode", "Tracking", "parse_result"]
