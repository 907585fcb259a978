"""Qimen bodies in both wire formats (XML and JSON) to and from one plain-dict form.

Qimen's XML nests repeated records in a container element (``<orderLines><orderLine>..``); the
dict form flattens each known container to a list (``{"orderLines": [{...}, ...]}``) so code
reading a confirm does not care which format arrived; scalars decode as strings in both formats
(``"2"``, not ``2``), so one mapping rule serves XML and JSON payloads alike. JSON bodies are accepted with the container
either as a list or as ``{"orderLine": [...] | {...}}`` (both are seen in the wild); we emit the
XML-mirroring form ``{"orderLines": {"orderLine": [...]}}``. Request bodies are rooted at
``<request>`` (JSON: the bare object; a ``{"request": {...}}`` wrapper is tolerated), responses at
``<response>`` (JSON: ``{"response": {...}}``).

DOCTYPE/ENTITY declarations are refused outright: no Qimen payload needs them and they are the
door to entity-expansion attacks.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
MAX_BODY_BYTES = 5 * 1024 * 1024

# container element -> its repeated child element
LIST_CONTAINERS: dict[str, str] = {
    "orderLines": "orderLine",
    "items": "item",
    "criteriaList": "criteria",
    "packages": "package",
    "batchs": "batch",
    "packageMaterialList": "packageMaterial",
    "invoices": "invoice",
    "details": "detail",
}
CONTENT_TYPES = {"xml": "text/xml;charset=utf-8", "json": "application/json;charset=utf-8"}


class BodyError(ValueError):
    """The body is not well-formed XML/JSON of the expected shape."""


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _build(parent: ET.Element, key: str, value: Any) -> None:
    if isinstance(value, list):
        container = ET.SubElement(parent, key)
        child_tag = LIST_CONTAINERS.get(key, "item")
        for entry in value:
            _build(container, child_tag, entry)
        return
    element = ET.SubElement(parent, key)
    if isinstance(value, Mapping):
        for child_key, child_value in value.items():
            _build(element, child_key, child_value)
    else:
        element.text = _to_text(value)


def to_xml(document: Mapping[str, Any], root: str = "request") -> str:
    """Serialise the dict form as a Qimen XML document with the given root element."""
    element = ET.Element(root)
    for key, value in document.items():
        _build(element, key, value)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode")


def _parse_element(element: ET.Element) -> Any:
    children = list(element)
    if element.tag in LIST_CONTAINERS:
        return [_parse_element(child) for child in children]
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        value = _parse_element(child)
        if child.tag in out:  # repeated siblings outside a known container
            previous = out[child.tag]
            out[child.tag] = previous + [value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    return out


def from_xml(body: str | bytes, root: str | None = None) -> dict[str, Any]:
    """Parse a Qimen XML body into the dict form; ``root`` (if given) must match."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        raise BodyError(f"body of {len(raw)} bytes exceeds the {MAX_BODY_BYTES} byte limit")
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise BodyError("XML with DOCTYPE/ENTITY declarations is refused")
    try:
        element = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise BodyError(f"malformed XML: {exc}") from exc
    if root is not None and element.tag != root:
        raise BodyError(f"XML root is <{element.tag}>, expected <{root}>")
    parsed = _parse_element(element)
    return parsed if isinstance(parsed, dict) else {}


def _json_ready(value: Any, key: str | None = None) -> Any:
    if isinstance(value, list):
        child = LIST_CONTAINERS.get(key or "", "item")
        return {child: [_json_ready(entry, child) for entry in value]}
    if isinstance(value, Mapping):
        return {k: _json_ready(v, k) for k, v in value.items()}
    return value


def to_json(document: Mapping[str, Any], root: str = "request") -> str:
    """Serialise the dict form as Qimen JSON (responses wrapped in ``{"response": ...}``)."""
    ready = _json_ready(document)
    wrapped = {"response": ready} if root == "response" else ready
    return json.dumps(wrapped, ensure_ascii=False, separators=(",", ":"))


def _normalise_json(value: Any, key: str | None = None) -> Any:
    if key in LIST_CONTAINERS:
        child = LIST_CONTAINERS[key]
        if isinstance(value, Mapping) and set(value) <= {child}:
            value = value.get(child, [])
        if isinstance(value, Mapping):
            value = [value]
        if not isinstance(value, list):
            return []
        return [_normalise_json(entry, child) for entry in value]
    if isinstance(value, Mapping):
        return {k: _normalise_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_json(entry, key) for entry in value]
    return _to_text(value)  # scalars as XML would give them, so both formats decode alike


def from_json(body: str | bytes, root: str = "request") -> dict[str, Any]:
    """Parse a Qimen JSON body into the dict form (a ``root`` wrapper is optional)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        raise BodyError(f"body of {len(raw)} bytes exceeds the {MAX_BODY_BYTES} byte limit")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BodyError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BodyError("JSON body must be an object")
    if set(data) == {root} and isinstance(data[root], dict):
        data = data[root]
    return _normalise_json(data)


def decode(body: str | bytes, fmt: str, root: str = "request") -> dict[str, Any]:
    """Parse a body of the given ``format`` parameter (``xml`` or ``json``)."""
    if fmt == "json":
        return from_json(body, root)
    if fmt == "xml":
        return from_xml(body, root)
    raise BodyError(f"unknown format {fmt!r}; expected 'xml' or 'json'")


def encode(document: Mapping[str, Any], fmt: str, root: str = "request") -> str:
    """Serialise the dict form in the given ``format``."""
    if fmt == "json":
        return to_json(document, root)
    if fmt == "xml":
        return to_xml(document, root)
    raise BodyError(f"unknown format {fmt!r}; expected 'xml' or 'json'")


def envelope(flag: str, code: str, message: str, **payload: Any) -> dict[str, Any]:
    """The common Qimen response: ``flag`` success|failure, ``code``, ``message`` then payload."""
    return {"flag": flag, "code": code, "message": message, **payload}


def success(message: str = "", **payload: Any) -> dict[str, Any]:
    return envelope("success", "0", message, **payload)


def failure(code: str, message: str) -> dict[str, Any]:
    return envelope("failure", code, message)
