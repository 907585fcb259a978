"""Reading a spec file: ``$ref`` resolution and key-by-key validation whose errors name file and key.

Why a reader and not pydantic: an integrator writing YAML needs ``meituan/connector.yaml:
endpoints.write_stock.method: must be one of GET, POST, got 'PUT'`` — the file, the dotted key and
the fix — and ``$ref`` must be resolved before validation, with the path of the reference kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["Reader", "SpecError", "resolve_refs"]

T = TypeVar("T")
_MISSING = object()


class SpecError(ValueError):
    """A connector spec is invalid; the message starts with ``<file>: <dotted key>:``."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key or '<root>'}: {problem}")
        self.file, self.key, self.problem = file, key, problem


def resolve_refs(node: Any, definitions: Mapping[str, Any], *, file: str, key: str = "", depth: int = 0) -> Any:
    """Replace ``{$ref: "#/definitions/x", ...siblings}`` by ``definitions[x]`` with the siblings merged over it."""
    if depth > 20:
        raise SpecError(file, key, "$ref nesting deeper than 20 (a cycle?)")
    if isinstance(node, Mapping):
        if "$ref" in node:
            ref = node["$ref"]
            prefix = "#/definitions/"
            if not isinstance(ref, str) or not ref.startswith(prefix):
                raise SpecError(file, f"{key}.$ref".lstrip("."), f"must look like '#/definitions/<name>', got {ref!r}")
            name = ref[len(prefix):]
            if name not in definitions:
                known = ", ".join(sorted(definitions)) or "none"
                raise SpecError(file, f"{key}.$ref".lstrip("."), f"no definition {name!r} (known: {known})")
            target = resolve_refs(definitions[name], definitions, file=file, key=f"definitions.{name}",
                                  depth=depth + 1)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if not siblings:
                return target
            if not isinstance(target, Mapping):
                raise SpecError(file, key, f"$ref {ref!r} is not a mapping, so it cannot take sibling keys")
            return {**target, **resolve_refs(siblings, definitions, file=file, key=key, depth=depth)}
        return {k: resolve_refs(v, definitions, file=file, key=f"{key}.{k}".lstrip("."), depth=depth)
                for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_refs(v, definitions, file=file, key=f"{key}[{i}]", depth=depth) for i, v in enumerate(node)]
    return node


class Reader:
    """A mapping being validated: ``get``/``need`` check types and remember which keys were read,
    ``done()`` refuses keys nobody read (typos like ``methd:`` fail loudly)."""

    def __init__(self, data: Any, *, file: str, key: str = "") -> None:
        if not isinstance(data, Mapping):
            raise SpecError(file, key, f"must be a mapping, got {type(data).__name__}")
        self.data, self.file, self.key = data, file, key
        self._read: set[str] = set()

    def where(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def error(self, name: str, problem: str) -> SpecError:
        return SpecError(self.file, self.where(name), problem)

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str, kind: type[T] | tuple[type, ...], default: Any = _MISSING) -> Any:
        self._read.add(name)
        if name not in self.data or self.data[name] is None:
            if default is _MISSING:
                raise self.error(name, "is required")
            return default
        value = self.data[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.error(name, f"must be {names}, got {type(value).__name__} {value!r}")
        return value

    def need(self, name: str, kind: type[T] | tuple[type, ...]) -> Any:
        return self.get(name, kind)

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.get(name, str, default) if default is not None else self.need(name, str)
        if value not in options:
            raise self.error(name, f"must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    def child(self, name: str, *, required: bool = True) -> Reader | None:
        self._read.add(name)
        if name not in self.data or self.data[name] is None:
            if required:
                raise self.error(name, "is required")
            return None
        return Reader(self.data[name], file=self.file, key=self.where(name))

    def done(self) -> None:
        unknown = sorted(set(map(str, self.data)) - set(map(str, self._read)))
        if unknown:
            known = ", ".join(sorted(map(str, self._read)))
            raise SpecError(self.file, self.where(unknown[0]), f"unknown key (known here: {known})")
