"""Mask secrets before a raw event is shown: header values and JSON/form fields that carry credentials.

Pure functions, so the rule is tested on its own. A masked value keeps its length hint only
(``•••• (32 chars)``), enough to tell an empty signature from a present one without revealing it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

_SECRET_HEADERS = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie|x-.*hmac.*|.*sign|.*signature.*|.*token.*|.*secret.*|"
    r"x-api-key|api-key)$",
    re.IGNORECASE,
)
_SECRET_FIELDS = re.compile(
    r"^(sign|signature|.*_sign|sign_.*|.*secret.*|.*token.*|password|passwd|pwd|app_?key_?secret|client_secret)$",
    re.IGNORECASE,
)


def mask_value(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"•••• ({len(text)} chars)" if text else "••••"


def is_secret_header(name: str) -> bool:
    return bool(_SECRET_HEADERS.match(name.strip()))


def is_secret_field(name: str) -> bool:
    return bool(_SECRET_FIELDS.match(str(name).strip()))


def mask_headers(headers: dict[str, Any] | None) -> dict[str, str]:
    return {k: (mask_value(v) if is_secret_header(k) else str(v)) for k, v in (headers or {}).items()}


def mask_json(doc: Any) -> Any:
    """A copy of ``doc`` with every secret-named field masked, at any depth; JSON inside strings too."""
    if isinstance(doc, dict):
        return {k: (mask_value(v) if is_secret_field(k) and not isinstance(v, (dict, list)) else mask_json(v))
                for k, v in doc.items()}  # fmt: skip
    if isinstance(doc, list):
        return [mask_json(v) for v in doc]
    if isinstance(doc, str) and doc[:1] in ("{", "["):
        try:
            inner = json.loads(doc)
        except ValueError:
            return doc
        return json.dumps(mask_json(inner), ensure_ascii=False)
    return doc


def pretty_body(body: bytes) -> tuple[str, str]:
    """``(kind, text)``: pretty JSON, a masked form body, or the text as it came (masked where possible)."""
    text = body.decode("utf-8", "replace")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if doc is not None or text.strip() == "null":
        return "json", json.dumps(mask_json(doc), ensure_ascii=False, indent=2)
    if "=" in text and "\n" not in text.strip() and " " not in text.strip():
        pairs = parse_qsl(text, keep_blank_values=True)
        if pairs:
            return "form", "\n".join(f"{k}={mask_value(v) if is_secret_field(k) else v}" for k, v in pairs)
    masked = re.sub(r"(<(sign|signature|secret|token|password)[^>]*>)([^<]*)(</)",
                    lambda m: m.group(1) + mask_value(m.group(3)) + m.group(4), text, flags=re.IGNORECASE)
    return "text", masked
