"""Kuaidi100 tracking results read into typed values, and their event ids (pure, no I/O).

``state`` codes (QueryTrackResp): 0 在途 in transit, 1 揽收 picked up, 2 疑难 problem, 3 签收
delivered, 4 退签 returned and signed for by the sender, 5 派件 out for delivery, 6 退回 being
returned, 7 转投 redirected, 10-13 customs, 14 拒签 refused. ``data`` is newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STATE_NAMES: dict[str, str] = {
    "0": "in_transit", "1": "picked_up", "2": "problem", "3": "delivered", "4": "returned", "5": "out_for_delivery",
    "6": "returning", "7": "redirected", "8": "in_transit", "10": "customs_pending", "11": "customs_clearing",
    "12": "customs_cleared", "13": "customs_problem", "14": "refused",
}
STATE_CODES: dict[str, str] = {
    "in_transit": "0", "picked_up": "1", "problem": "2", "delivered": "3", "returned": "4",
    "out_for_delivery": "5", "returning": "6", "redirected": "7", "refused": "14",
}
STATE_LABELS = {"0": "在途", "1": "揽收", "2": "疑难", "3": "签收", "4": "退签", "5": "派件", "6": "退回",
                "7": "转投", "14": "拒签"}
FINAL_STATES = frozenset({"3", "4"})  # Kuaidi100 stops tracking (status=shutdown, ischeck=1)


class TrackingError(ValueError):
    """A tracking result lacks ``nu``/``state`` or is not the expected JSON shape."""


@dataclass(frozen=True)
class TrackNode:
    time: str
    context: str
    ftime: str = ""
    status: str = ""
    area_code: str = ""
    area_name: str = ""


@dataclass(frozen=True)
class Tracking:
    number: str
    company: str
    state: str  # Kuaidi100 code, e.g. "3"
    is_signed: bool
    nodes: tuple[TrackNode, ...]  # newest first

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, f"state_{self.state}")

    @property
    def latest_time(self) -> str:
        return self.nodes[0].time if self.nodes else ""

    @property
    def event_id(self) -> str:
        """Tracking number + state + latest node time: a redelivered push dedupes, a new scan does not."""
        return f"kuaidi100:{self.number}:{self.state}:{self.latest_time}"


def parse_result(result: Mapping[str, Any]) -> Tracking:
    """Read a ``lastResult`` (push) or a /poll/query.do answer."""
    if not isinstance(result, Mapping):
        raise TrackingError("tracking result must be a JSON object")
    number = str(result.get("nu") or "").strip()
    state = str(result.get("state") if result.get("state") is not None else "").strip()
    if not number:
        raise TrackingError("tracking result has no 'nu' (tracking number)")
    if not state:
        raise TrackingError(f"tracking result for {number} has no 'state'")
    data = result.get("data") or []
    if not isinstance(data, list):
        raise TrackingError("'data' must be a list of trace nodes")
    nodes = tuple(
        TrackNode(time=str(node.get("time") or ""), context=str(node.get("context") or ""),
                  ftime=str(node.get("ftime") or ""), status=str(node.get("status") or ""),
                  area_code=str(node.get("areaCode") or ""), area_name=str(node.get("areaName") or ""))
        for node in data if isinstance(node, Mapping)
    )
    nodes = tuple(sorted(nodes, key=lambda n: n.time, reverse=True))
    return Tracking(number=number, company=str(result.get("com") or ""), state=state,
                    is_signed=str(result.get("ischeck") or "0") == "1", nodes=nodes)
