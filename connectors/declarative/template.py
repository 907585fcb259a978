"""Templates: ``"{listing.app_food_code|sku}"`` placeholders filled from a call's context.

A template is compiled once at load. A string that is exactly one placeholder keeps the value's
type (``"{quantity}"`` -> ``37``); otherwise values are interpolated as text. ``a|b`` tries ``a``,
then ``b``. Nested mappings and lists are templates too; ``{json: <tree>}`` renders the tree and
encodes it as a JSON string, the way Meituan wants ``food_data``::

    form:
      app_poi_code: "{settings.app_poi_code}"
      food_data:
        json:
          - app_food_code: "{listing.app_food_code|sku}"
            skus: [{sku_id: "{listing.sku_id|sku}", stock: "{quantity}"}]

A value that renders to ``None`` drops its key (optional query parameters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._reader import SpecError

__all__ = ["Template", "TemplateError", "compile_tree", "render_tree"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*(?:\|[A-Za-z_][\w.]*)*)\}")


class TemplateError(LookupError):
    """A placeholder has no value in the call's context."""


@dataclass(frozen=True, slots=True)
class Template:
    """One compiled string template. ``Template.compile("{a}-{b.c}", file=..., key=...)``."""

    text: str
    parts: tuple[str | tuple[str, ...], ...]  # literal text, or alternatives of dotted names

    @classmethod
    def compile(cls, text: str, *, file: str = "<spec>", key: str = "") -> Template:
        parts: list[str | tuple[str, ...]] = []
        pos = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.start() > pos:
                parts.append(text[pos:match.start()])
            parts.append(tuple(match.group(1).split("|")))
            pos = match.end()
        if pos < len(text):
            parts.append(text[pos:])
        literal = "".join(p for p in parts if isinstance(p, str))
        if "{" in literal or "}" in literal:
            raise SpecError(file, key, f"malformed placeholder in {text!r} (use {{name}} or {{a.b|c}})")
        return cls(text, tuple(parts))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for p in self.parts if isinstance(p, tuple) for n in p)

    def render(self, context: Mapping[str, Any]) -> Any:
        if len(self.parts) == 1 and isinstance(self.parts[0], tuple):
            return _lookup(context, self.parts[0], self.text)
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = _lookup(context, part, self.text)
                out.append("" if value is None else str(value))
        return "".join(out)


def _lookup(context: Mapping[str, Any], alternatives: tuple[str, ...], text: str) -> Any:
    for dotted in alternatives:
        node: Any = context
        for name in dotted.split("."):
            if isinstance(node, Mapping) and name in node:
                node = node[name]
            else:
                node = _MISS
                break
        if node is not _MISS and node is not None:
            return node
    if alternatives[-1] == "none":
        return None
    raise TemplateError(f"no value for {'|'.join(alternatives)} in template {text!r}")


_MISS = object()


def compile_tree(node: Any, *, file: str, key: str) -> Any:
    """Compile every string in a YAML tree into a ``Template``; ``{json: tree}`` becomes ``_Json``."""
    if isinstance(node, str):
        return Template.compile(node, file=file, key=key)
    if isinstance(node, Mapping):
        if set(node) == {"json"}:
            return _Json(compile_tree(node["json"], file=file, key=f"{key}.json"))
        return {str(k): compile_tree(v, file=file, key=f"{key}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [compile_tree(v, file=file, key=f"{key}[{i}]") for i, v in enumerate(node)]
    return node


@dataclass(frozen=True, slots=True)
class _Json:
    tree: Any


def render_tree(node: Any, context: Mapping[str, Any]) -> Any:
    """Fill a compiled tree; keys whose value renders to ``None`` are dropped."""
    if isinstance(node, Template):
        return node.render(context)
    if isinstance(node, _Json):
        return json.dumps(render_tree(node.tree, context), ensure_ascii=False, separators=(",", ":"))
    if isinstance(node, Mapping):
        rendered = {k: render_tree(v, context) for k, v in node.items()}
        return {k: v for k, v in rendered.items() if v is not None}
    if isinstance(node, list):
        return [render_tree(v, context) for v in node]
    return node
