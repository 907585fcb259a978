"""Declarative connectors: a simple HTTP/JSON channel described by one YAML file, no Python.

::

    from connectors.declarative import connector_from_yaml
    AcmeConnector = connector_from_yaml("acme.yaml")          # a connectors.base.Connector subclass

The spec's parts, each a small dataclass whose docstring shows its YAML: ``auth`` (``auth.py``),
``endpoints``/``streams`` (``endpoints.py``), ``pagination`` (``paging.py``), records and fields
(``selector.py``), ``errors`` (``errors.py``), ``push`` (``push.py``), templates (``template.py``),
signatures (``signing.py``); the whole file is ``spec.py``. Shared blocks live under
``definitions:`` and are reused with ``$ref: "#/definitions/<name>"``.
"""

from __future__ import annotations

from ._reader import SpecError
from .connector import DeclarativeClient, DeclarativeConnector, connector_from_yaml
from .signing import SignatureRecipe
from .spec import ChannelSpec, load_spec, parse_spec

__all__ = [
    "ChannelSpec",
    "DeclarativeClient",
    "DeclarativeConnector",
    "SignatureRecipe",
    "SpecError",
    "connector_from_yaml",
    "load_spec",
    "parse_spec",
]
