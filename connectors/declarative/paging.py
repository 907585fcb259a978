"""Pagination: how to ask for the next page, as data (``offset``, ``page`` or ``cursor``).

::

    pagination: {type: offset, offset_param: offset, limit_param: limit, page_size: 50}
    pagination: {type: page, page_param: page, size_param: page_size, start: 1, page_size: 100}
    pagination: {type: cursor, cursor_param: cursor, next: "$.next_cursor", size_param: limit}

``has_more: "$.has_more"`` (optional) reads the platform's own flag; without it a short page ends
the listing. The token handed back is opaque text the poll cursor keeps (an offset, a page number
or the platform's cursor). The instance setting ``page_size`` overrides ``page_size``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._reader import Reader
from .selector import Selector

__all__ = ["Pagination"]


@dataclass(frozen=True)
class Pagination:
    """One paging style; ``params(token, size)`` for the request, ``next_token(...)`` from the answer."""

    type: str
    param: str
    size_param: str | None
    page_size: int
    start: int = 0
    next: Selector | None = None
    has_more: Selector | None = None

    @classmethod
    def read(cls, r: Reader) -> Pagination:
        kind = r.choice("type", ("offset", "page", "cursor"))
        param = r.get({"offset": "offset_param", "page": "page_param", "cursor": "cursor_param"}[kind], str,
                      {"offset": "offset", "page": "page", "cursor": "cursor"}[kind])
        size_key = "limit_param" if kind == "offset" else "size_param"
        nxt = r.get("next", str, None) if kind == "cursor" else None
        if kind == "cursor" and nxt is None:
            raise r.error("next", "is required for cursor pagination (jsonpath of the next cursor)")
        more = r.get("has_more", str, None)
        spec = cls(
            type=kind, param=param, size_param=r.get(size_key, str, None), page_size=r.get("page_size", int, 50),
            start=r.get("start", int, 1 if kind == "page" else 0),
            next=Selector.compile(nxt, file=r.file, key=r.where("next")) if nxt else None,
            has_more=Selector.compile(more, file=r.file, key=r.where("has_more")) if more else None,
        )
        if spec.page_size < 1:
            raise r.error("page_size", "must be at least 1")
        r.done()
        return spec

    def size(self, settings: Mapping[str, Any]) -> int:
        return int(settings.get("page_size", self.page_size))

    def params(self, token: str | None, size: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.size_param:
            out[self.size_param] = size
        if self.type == "cursor":
            if token:
                out[self.param] = token
        else:
            out[self.param] = int(token) if token else self.start
        return out

    def next_token(self, token: str | None, body: Any, count: int, size: int) -> str | None:
        """The token of the following page, or None when this was the last one."""
        if self.has_more is not None:
            more = bool(self.has_more.first(body, False))
        elif self.type == "cursor":
            more = True
        else:
            more = count >= size
        if not more:
            return None
        if self.type == "cursor":
            assert self.next is not None
            value = self.next.first(body)
            return str(value) if value not in (None, "") else None
        current = int(token) if token else self.start
        return str(current + (count if self.type == "offset" else 1))
