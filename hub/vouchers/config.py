"""Voucher engine configuration: which legal entity owns each location, posting mode, costing.

Read from ``{var_dir}/vouchers.yaml`` (every process of a deployment reads the same file), or set on
``ctx.extras["vouchers.config"]`` by an embedding program or a test. Example::

    entities: {default: E1, locations: {WH-BJ: E2}}
    mode: movement            # or summary
    summary_grain: [day, shop]
    timezone: Asia/Shanghai   # the voucher date is the movement's day in this zone
    costing: moving_average   # or standard, with standard_costs: {SKU-A: "10.00"}
    templates: null           # path of a template YAML; null = connectors/vouchers/default_templates.yaml
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from connectors.vouchers import TemplateSet, load_templates

CONFIG_FILE = "vouchers.yaml"
EXTRAS_KEY = "vouchers.config"
KIND_ALIASES = {"lock_presale": "presale_lock", "unlock_presale": "presale_release", "unhold": "release"}


class VoucherConfigError(ValueError):
    """The voucher configuration is malformed; the message names the bad key."""


@dataclass(frozen=True)
class VoucherConfig:
    default_entity: str = "E1"
    location_entities: Mapping[str, str] = field(default_factory=dict)
    mode: str = "movement"
    summary_grain: tuple[str, ...] = ("day", "shop")
    timezone: str = "Asia/Shanghai"
    costing: str = "moving_average"
    standard_costs: Mapping[str, Decimal] = field(default_factory=dict)
    templates_path: str | None = None
    kind_aliases: Mapping[str, str] = field(default_factory=lambda: dict(KIND_ALIASES))
    batch_size: int = 500
    gap_grace_seconds: float = 10.0
    """A missing movement id younger than this may still commit: the scan waits for it."""
    retry_base_seconds: float = 1.0
    max_post_attempts: int = 8
    lease_seconds: float = 120.0

    def entity_of(self, location: str) -> str:
        return self.location_entities.get(location, self.default_entity)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def templates(self) -> TemplateSet:
        return _templates(self.templates_path)

    def with_(self, **changes: Any) -> VoucherConfig:
        return replace(self, **changes)


_TEMPLATE_CACHE: dict[str | None, TemplateSet] = {}


def _templates(path: str | None) -> TemplateSet:
    if path not in _TEMPLATE_CACHE:
        _TEMPLATE_CACHE[path] = load_templates(path)
    return _TEMPLATE_CACHE[path]


def parse_config(doc: Mapping[str, Any] | None) -> VoucherConfig:
    """Validate a parsed YAML mapping into a :class:`VoucherConfig` (errors name the key)."""
    doc = dict(doc or {})
    entities = doc.pop("entities", {}) or {}
    if not isinstance(entities, Mapping):
        raise VoucherConfigError("entities: must be a mapping {default: E1, locations: {LOC: ENTITY}}")
    mode = str(doc.pop("mode", "movement"))
    if mode not in ("movement", "summary"):
        raise VoucherConfigError(f"mode: {mode!r} is not movement or summary")
    costing = str(doc.pop("costing", "moving_average"))
    if costing not in ("moving_average", "standard"):
        raise VoucherConfigError(f"costing: {costing!r} is not moving_average or standard")
    try:
        standard = {str(k): Decimal(str(v)) for k, v in (doc.pop("standard_costs", {}) or {}).items()}
    except InvalidOperation as exc:
        raise VoucherConfigError(f"standard_costs: not a number ({exc})") from None
    tz = str(doc.pop("timezone", "Asia/Shanghai"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise VoucherConfigError(f"timezone: unknown zone {tz!r}") from None
    templates = doc.pop("templates", None)
    config = VoucherConfig(
        default_entity=str(entities.get("default", "E1")),
        location_entities={str(k): str(v) for k, v in (entities.get("locations") or {}).items()},
        mode=mode,
        summary_grain=tuple(doc.pop("summary_grain", ("day", "shop"))),
        timezone=tz,
        costing=costing,
        standard_costs=standard,
        templates_path=str(templates) if templates else None,
        kind_aliases={**KIND_ALIASES, **{str(k): str(v) for k, v in (doc.pop("kind_aliases", {}) or {}).items()}},
    )
    numeric = {"batch_size": int, "gap_grace_seconds": float, "retry_base_seconds": float,
               "max_post_attempts": int, "lease_seconds": float}  # fmt: skip
    for name, kind in numeric.items():
        if name in doc:
            try:
                config = replace(config, **{name: kind(doc.pop(name))})
            except (TypeError, ValueError):
                raise VoucherConfigError(f"{name}: not a number") from None
    if doc:
        raise VoucherConfigError(f"unknown keys in voucher config: {', '.join(sorted(doc))}")
    config.templates()  # a broken template file is reported now, not at the first movement
    return config


def load_config(settings: Any, extras: Mapping[str, Any] | None = None) -> VoucherConfig:
    """The config set on ``extras`` if any, else ``{var_dir}/vouchers.yaml``, else the defaults."""
    if extras and isinstance(extras.get(EXTRAS_KEY), VoucherConfig):
        return extras[EXTRAS_KEY]  # type: ignore[no-any-return]
    path = Path(getattr(settings, "var_dir", ".")) / CONFIG_FILE
    if path.is_file():
        try:
            return parse_config(yaml.safe_load(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            raise VoucherConfigError(f"{path}: not valid YAML ({exc})") from None
    return VoucherConfig()
