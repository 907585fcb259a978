"""Connector discovery: built-ins, entry-point plugins, lazy imports with helpful errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from connectors import registry
from connectors.base import Capability
from connectors.shopify import ShopifyConnector

PLUGIN = '''
from connectors.base import Capability, Connector

class AcmeConnector(Connector):
    platform = "acme"
    capabilities = frozenset({Capability.READ_STOCK})
'''


@pytest.fixture
def acme_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A plugin 'installed' as a distribution on sys.path, registered through the entry-point group."""
    name = f"acme_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(PLUGIN)
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
            [{registry.ENTRY_POINT_GROUP}]
            acme = {name}:AcmeConnector
            broken = {name}_missing:Nothing
            """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_builtin_shopify_loads_lazily_with_its_capabilities() -> None:
    assert registry.registry["shopify"] == "connectors.shopify:ShopifyConnector"
    assert registry.load("shopify") is ShopifyConnector
    row = next(r for r in registry.list_connectors() if r.name == "shopify")
    assert row.origin == "builtin" and row.capabilities and Capability.WRITE_STOCK_CAS in row.capabilities


def test_unknown_connector_names_the_known_ones() -> None:
    with pytest.raises(registry.RegistryError, match="unknown connector 'nope'.*shopify"):
        registry.load("nope")


def test_plugins_are_discovered_from_entry_points(acme_plugin: str) -> None:
    assert "acme" in registry.available()
    cls = registry.load("acme")
    assert cls.platform == "acme" and cls.__module__ == acme_plugin
    rows = {r.name: r for r in registry.list_connectors()}
    assert rows["acme"].origin == "plugin" and rows["acme"].capabilities == frozenset({Capability.READ_STOCK})
    assert rows["broken"].capabilities is None and "plugin package installed" in (rows["broken"].error or "")


def test_registered_target_must_be_a_connector_and_cannot_shadow() -> None:
    with pytest.raises(registry.RegistryError, match="already registered"):
        registry.register("shopify", "connectors.base:Connector")
    registry.register("not-a-connector", "connectors.base:InstanceConfig", clobber=True)
    with pytest.raises(registry.RegistryError, match="not a connectors.base.Connector subclass"):
        registry.load("not-a-connector")


def test_public_view_is_read_only() -> None:
    with pytest.raises(TypeError):
        registry.registry["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        registry.BUILTIN["x"] = "y"  # type: ignore[index]
