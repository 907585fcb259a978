"""Loading and checking arbitration rule files (``conflict_rules/rules/*.yaml``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from conflict_rules.model import RuleSet
from semantic_layer.dictionary import Tolerance
from semantic_layer.stock_types import is_stock_type

DEFAULT_DIR = Path(__file__).with_name("rules")
DEFAULT_FILE = DEFAULT_DIR / "default.yaml"
_KEYS = {"id", "version", "description", "trust_threshold", "clock_skew_seconds", "default_tolerance", "classes",
         "authority", "priority"}


class RulesError(ValueError):
    pass


def _problems(path: Path, doc: Any) -> list[str]:
    """Every problem in one rule file, each naming the file and the rule (key) at fault."""
    p: list[str] = []

    def bad(rule: str, message: str) -> None:
        p.append(f"{path}: rule {rule}: {message}")

    if not isinstance(doc, dict):
        return [f"{path}: the file must be a mapping"]
    for key in sorted(set(doc) - _KEYS):
        bad(str(key), f"unknown key (expected one of {', '.join(sorted(_KEYS))})")
    if not isinstance(doc.get("id"), str) or not doc.get("id"):
        bad("id", "must be a non-empty string")
    if not isinstance(doc.get("version"), (str, int)) or doc.get("version") in ("", None):
        bad("version", "must be set (a string such as '2026.05.1')")
    t = doc.get("trust_threshold")
    if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t <= 100:
        bad("trust_threshold", f"must be an integer 0..100, got {t!r}")
    s = doc.get("clock_skew_seconds", 0)
    if not isinstance(s, (int, float)) or isinstance(s, bool) or s < 0:
        bad("clock_skew_seconds", f"must be a number >= 0, got {s!r}")
    tol = doc.get("default_tolerance", {}) or {}
    if not isinstance(tol, dict) or set(tol) - {"units", "percent"}:
        bad("default_tolerance", "must be a mapping with units and/or percent")
    else:
        try:
            if int(tol.get("units", 0)) < 0 or Decimal(str(tol.get("percent", 0))) < 0:
                bad("default_tolerance", "must not be negative")
        except (ValueError, InvalidOperation):
            bad("default_tolerance", f"units must be an int and percent a number, got {tol!r}")
    classes = doc.get("classes", {}) or {}
    seen: dict[str, str] = {}
    if not isinstance(classes, dict):
        bad("classes", "must map a class name to a list of source names")
        classes = {}
    for cls, members in classes.items():
        if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
            bad(f"classes.{cls}", "must be a list of source names")
            continue
        for m in members:
            if m in seen:
                bad(f"classes.{cls}", f"source {m!r} is already in class {seen[m]!r}")
            seen[m] = str(cls)
    names = set(classes) | set(seen)
    authority = doc.get("authority", {}) or {}
    if not isinstance(authority, dict):
        bad("authority", "must map a stock type to a list of sources or classes")
        authority = {}
    for st, who in authority.items():
        if not is_stock_type(str(st)):
            bad(f"authority.{st}", "is not a stock type")
        if not isinstance(who, list) or not who:
            bad(f"authority.{st}", "must be a non-empty list of sources or classes")
            continue
        for w in who:
            if w not in names:
                bad(f"authority.{st}", f"{w!r} is neither a class nor a source listed in classes")
    priority = doc.get("priority", []) or []
    if not isinstance(priority, list):
        bad("priority", "must be a list of classes, highest first")
        priority = []
    for w in priority:
        if w not in names:
            bad("priority", f"{w!r} is neither a class nor a source listed in classes")
    if len(set(map(str, priority))) != len(priority):
        bad("priority", "lists an entry twice")
    return p


def _read(path: Path) -> tuple[Any, list[str]]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), []
    except (OSError, yaml.YAMLError) as exc:
        return None, [f"{path}: cannot read rules: {exc}"]


def check(path: Path | str = DEFAULT_DIR) -> list[str]:
    """Problems in a rule file, or in every ``*.yaml`` of a directory (empty list: all good)."""
    path = Path(path)
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        return [f"{path}: no rule files (*.yaml)"]
    out: list[str] = []
    ids: dict[tuple[str, str], Path] = {}
    for f in files:
        doc, errors = _read(f)
        out.extend(errors or _problems(f, doc))
        if isinstance(doc, dict):
            key = (str(doc.get("id")), str(doc.get("version")))
            if key in ids:
                out.append(f"{f}: rule id: {key[0]} version {key[1]} is also defined in {ids[key]}")
            ids[key] = f
    return out


def load_rules(path: Path | str = DEFAULT_FILE) -> RuleSet:
    """Load one rule file; raises RulesError listing every problem."""
    path = Path(path)
    doc, errors = _read(path)
    errors = errors or _problems(path, doc)
    if errors:
        raise RulesError("\n".join(errors))
    tol = doc.get("default_tolerance", {}) or {}
    return RuleSet(
        id=doc["id"],
        version=str(doc["version"]),
        trust_threshold=doc["trust_threshold"],
        clock_skew=timedelta(seconds=doc.get("clock_skew_seconds", 0)),
        default_tolerance=Tolerance(int(tol.get("units", 0)), Decimal(str(tol.get("percent", 0)))),
        classes={str(k): tuple(v) for k, v in (doc.get("classes") or {}).items()},
        authority={str(k): tuple(v) for k, v in (doc.get("authority") or {}).items()},
        priority=tuple(doc.get("priority") or ()),
        description=str(doc.get("description", "")),
        path=str(path),
    )
