"""Which connectors exist: built-ins listed in code, plugins from the ``zhongshu.connectors`` entry points.

Modelled on fsspec's registry: names map to ``"pkg.mod:Class"`` strings, imported lazily on first
use, and a failed import says what to do. A plugin package registers itself in its pyproject::

    [project.entry-points."zhongshu.connectors"]
    acme = "acme_connector:AcmeConnector"

then ``load("acme")`` returns the class and ``list_connectors()`` shows it with its capabilities.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

from connectors.base import Capability, Connector

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "ConnectorInfo",
    "RegistryError",
    "available",
    "import_path",
    "list_connectors",
    "load",
    "load_object",
    "register",
    "registry",
]

ENTRY_POINT_GROUP = "zhongshu.connectors"

_BUILTIN: dict[str, str] = {
    "shopify": "connectors.shopify:ShopifyConnector",
    "taobao": "connectors.taobao:TaobaoConnector",
    "jd": "connectors.jd:JdConnector",
    "douyin": "connectors.douyin:DouyinConnector",
    "meituan": "connectors.meituan:MeituanConnector",
    "qimen": "connectors.qimen:QimenConnector",
    "tms": "connectors.tms:TmsConnector",
    "kingdee": "connectors.kingdee:KingdeeConnector",
    "yonyou": "connectors.yonyou:YonyouConnector",
}
BUILTIN: Mapping[str, str] = MappingProxyType(_BUILTIN)
"""Built-in name -> ``"pkg.mod:Class"`` (read-only)."""

_extra: dict[str, str] = {}
_loaded: dict[str, type[Connector]] = {}


class RegistryError(LookupError):
    """A connector name is unknown or its class cannot be imported; the message says why."""


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """One row of ``zhongshu connectors list``."""

    name: str
    target: str
    origin: str  # "builtin" | "plugin" | "registered"
    capabilities: frozenset[Capability] | None  # None when the class cannot be imported
    error: str | None = None


def _plugins() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _table() -> dict[str, tuple[str, str]]:
    table = {name: (target, "builtin") for name, target in _BUILTIN.items()}
    table.update({name: (target, "plugin") for name, target in _plugins().items()})
    table.update({name: (target, "registered") for name, target in _extra.items()})
    return table


def available() -> list[str]:
    """Every known connector name, sorted (does not import anything)."""
    return sorted(_table())


def import_path(name: str) -> str:
    """The ``"pkg.mod:Class"`` behind ``name``."""
    try:
        return _table()[name][0]
    except KeyError:
        raise RegistryError(f"unknown connector {name!r}; known: {', '.join(available())}") from None


def load_object(target: str) -> Any:
    """Import ``"pkg.mod:attr"`` (also used for ``Connector.sandbox_app``)."""
    module_name, _, attr = target.partition(":")
    if not attr:
        raise RegistryError(f"{target!r} is not of the form 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(
            f"cannot import {module_name!r} for {target!r}: {exc}. "
            "Is the connector written yet, or its plugin package installed in this environment?"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise RegistryError(f"module {module_name!r} has no attribute {attr!r} (from {target!r})") from None


def load(name: str) -> type[Connector]:
    """The connector class registered as ``name``, imported on first use."""
    if name not in _loaded:
        cls = load_object(import_path(name))
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise RegistryError(f"{import_path(name)!r} is not a connectors.base.Connector subclass")
        _loaded[name] = cls
    return _loaded[name]


def register(name: str, target: str, *, clobber: bool = False) -> None:
    """Add a connector at run time (tests, scaffolds); refuses to shadow one unless ``clobber``."""
    if not clobber and name in _table():
        raise RegistryError(f"connector {name!r} is already registered as {import_path(name)!r}")
    _extra[name] = target
    _loaded.pop(name, None)


def list_connectors() -> list[ConnectorInfo]:
    """Every connector with its capabilities; one that fails to import is listed with its error."""
    rows = []
    for name, (target, origin) in sorted(_table().items()):
        try:
            caps: frozenset[Capability] | None = load(name).capabilities
            error = None
        except RegistryError as exc:
            caps, error = None, str(exc)
        rows.append(ConnectorInfo(name, target, origin, caps, error))
    return rows


class _ReadOnlyRegistry(Mapping[str, str]):
    """Live read-only view: name -> ``"pkg.mod:Class"``, built-ins, plugins and registered ones."""

    def __getitem__(self, name: str) -> str:
        return import_path(name)

    def __iter__(self) -> Iterator[str]:
        return iter(available())

    def __len__(self) -> int:
        return len(_table())


registry: Mapping[str, str] = _ReadOnlyRegistry()
