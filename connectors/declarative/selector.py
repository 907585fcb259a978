"""Selector: a jsonpath compiled once at load, reading records and fields out of an answer.

::

    records: "$.data[*]"            # every order of a page
    fields:
      sku: "$.app_food_code"
      quantity: "$.skus[0].stock"   # "12" or 12 -> 12 when read with as_int

Uses ``jsonpath_ng.ext`` (filters such as ``$.data[?(@.status == 9)]`` work), like ``mappings/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as jsonpath_parse

from ._reader import SpecError

__all__ = ["Selector"]


@dataclass(frozen=True)
class Selector:
    """One compiled jsonpath. ``Selector.compile("$.error.code", file=..., key=...).first(body)``."""

    path: str
    compiled: Any

    @classmethod
    def compile(cls, path: str, *, file: str = "<spec>", key: str = "") -> Selector:
        if not isinstance(path, str) or not path.startswith("$"):
            raise SpecError(file, key, f"must be a jsonpath starting with '$', got {path!r}")
        try:
            return cls(path, jsonpath_parse(path))
        except (JSONPathError, Exception) as exc:  # jsonpath_ng raises plain Exceptions for some syntax
            raise SpecError(file, key, f"invalid jsonpath {path!r}: {exc}") from None

    def all(self, document: Any) -> list[Any]:
        return [m.value for m in self.compiled.find(document)]

    def first(self, document: Any, default: Any = None) -> Any:
        found = self.compiled.find(document)
        return found[0].value if found else default

    def exists(self, document: Any) -> bool:
        return bool(self.compiled.find(document))
