"""Jinja2 rendering for the console: one environment, autoescaped, with the filters templates share."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request, Response

from hub.console.auth import can_operate, current_principal
from hub.console.i18n import pick_lang, translator

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
BASE = "/console"


def node_url(node_id: str) -> str:
    return f"{BASE}/lineage?node={quote(str(node_id), safe=':')}"


def _dt(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str, sort_keys=True)


@lru_cache(maxsize=1)
def env() -> Environment:
    e = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                    trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    e.filters["dt"] = _dt
    e.filters["pretty"] = _pretty
    e.filters["q"] = lambda v: quote(str(v), safe="")
    e.globals["node_url"] = node_url
    e.globals["base"] = BASE
    e.globals["loop_id"] = lambda node_id: hashlib.sha1(str(node_id).encode()).hexdigest()[:12]
    return e


def context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    lang = pick_lang(request.cookies.get("lang"))
    principal = current_principal(request)
    full_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {"t": translator(lang), "lang": lang, "principal": principal, "can_operate": can_operate(principal),
            "path": request.url.path, "full_path": full_path}


def page(request: Request[Any, Any, Any], template: str, status_code: int = 200, **values: Any) -> Response[str]:
    html = env().get_template(template).render(**context(request), **values)
    return Response(html, media_type=MediaType.HTML, status_code=status_code,
                    headers={"cache-control": "no-store", "x-frame-options": "DENY",
                             "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                                        "script-src 'self'; frame-ancestors 'none'"})  # fmt: skip
