"""Voucher templates: YAML rules that turn a movement into a balanced voucher.

Loading validates the whole file up front (unknown valuation, bad side, unknown amount source)
so a broken template is reported when it is configured, not when the first movement hits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from connectors.vouchers.costing import Costing, Valuation
from connectors.vouchers.model import Voucher, VoucherError, VoucherLine, money, voucher_key
from connectors.vouchers.movement import MovementFact

DEFAULT_TEMPLATES = Path(__file__).with_name("default_templates.yaml")
VALUATIONS = ("receive", "issue", "gain", "none")
AMOUNTS = ("value", "variance", "actual")


class TemplateError(VoucherError):
    """The template file is malformed, or no template matches a movement."""


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class LineRule:
    side: str
    account: str
    amount: str = "value"
    dims: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    name: str
    match: Mapping[str, Any]
    valuation: str
    summary: str = ""
    lines: tuple[LineRule, ...] = ()

    def matches(self, m: MovementFact) -> bool:
        want = self.match
        if want.get("kind") != m.kind:
            return False
        if "from" in want and want["from"] != m.from_type:
            return False
        if "to" in want and want["to"] != m.to_type:
            return False
        if "intercompany" in want and bool(want["intercompany"]) != m.intercompany:
            return False
        return True

    @property
    def posts(self) -> bool:
        return self.valuation != "none"


@dataclass(frozen=True)
class TemplateSet:
    version: int
    templates: tuple[Template, ...]
    account_maps: Mapping[str, Mapping[str, str]]

    def find(self, m: MovementFact) -> Template:
        """First matching template (file order); raises `TemplateError` naming the movement."""
        for t in self.templates:
            if t.matches(m):
                return t
        raise TemplateError(
            f"no voucher template for movement {m.movement_id} "
            f"(kind={m.kind}, from={m.from_type}, to={m.to_type}, intercompany={m.intercompany})"
        )

    def account_map(self, erp: str) -> Mapping[str, str]:
        try:
            return self.account_maps[erp]
        except KeyError:
            raise TemplateError(f"no account map for ERP {erp!r}; have {sorted(self.account_maps)}") from None


def parse_templates(doc: Mapping[str, Any]) -> TemplateSet:
    """Validate and build a `TemplateSet` from a parsed YAML document."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("templates"), Mapping):
        raise TemplateError("template file needs a 'templates' mapping")
    out = []
    for name, raw in doc["templates"].items():
        if not isinstance(raw, Mapping) or not isinstance(raw.get("match"), Mapping) or "kind" not in raw["match"]:
            raise TemplateError(f"template {name!r}: needs match.kind")
        valuation = raw.get("valuation", "none")
        if valuation not in VALUATIONS:
            raise TemplateError(f"template {name!r}: valuation {valuation!r} not one of {VALUATIONS}")
        rules = []
        for i, line in enumerate(raw.get("lines") or []):
            side, amount = line.get("side"), line.get("amount", "value")
            if side not in ("debit", "credit") or not line.get("account"):
                raise TemplateError(f"template {name!r} line {i}: needs side debit|credit and an account")
            if amount not in AMOUNTS:
                raise TemplateError(f"template {name!r} line {i}: amount {amount!r} not one of {AMOUNTS}")
            rules.append(LineRule(side, str(line["account"]), amount, tuple(line.get("dims") or ())))
        if valuation != "none" and not ({r.side for r in rules} >= {"debit", "credit"}):
            raise TemplateError(f"template {name!r}: a posting template needs debit and credit lines")
        out.append(Template(str(name), dict(raw["match"]), valuation, str(raw.get("summary", "")), tuple(rules)))
    maps = {erp: {k: str(v) for k, v in (m or {}).items()} for erp, m in (doc.get("account_maps") or {}).items()}
    return TemplateSet(int(doc.get("version", 1)), tuple(out), maps)


def load_templates(path: str | Path | None = None) -> TemplateSet:
    """Load a template YAML file (default: the bundled `default_templates.yaml`)."""
    p = Path(path) if path else DEFAULT_TEMPLATES
    return parse_templates(yaml.safe_load(p.read_text(encoding="utf-8")))


def value_movement(template: Template, m: MovementFact, costing: Costing, cost_key: str | None = None) -> Valuation:
    """Run the costing engine for this movement (mutates the costing state: call in ledger order)."""
    key = cost_key or f"{m.entity}|{m.sku}"
    if template.valuation == "receive":
        if m.unit_cost is None:
            raise TemplateError(f"movement {m.movement_id}: receipt without unit_cost cannot be valued")
        return costing.receive(key, m.quantity, m.unit_cost)
    if template.valuation == "issue":
        return costing.issue(key, m.quantity)
    if template.valuation == "gain":
        return costing.gain(key, m.quantity, m.unit_cost)
    raise TemplateError(f"template {template.name} does not post")


def build_voucher(m: MovementFact, templates: TemplateSet, costing: Costing) -> Voucher | None:
    """Movement → voucher with LOGICAL accounts, valued by `costing`; None when it has no financial meaning."""
    template = templates.find(m)
    if not template.posts:
        return None
    valuation = value_movement(template, m, costing)
    attrs = m.attributes()
    summary = " ".join(template.summary.format_map(_Blank(attrs)).split())
    amounts = {
        "value": valuation.amount,
        "variance": valuation.variance,
        "actual": valuation.amount + valuation.variance,
    }
    lines = []
    for rule in template.lines:
        amount = money(amounts[rule.amount])
        if amount == 0:
            continue
        debit_side = (rule.side == "debit") == (amount > 0)
        dims = tuple((d, attrs[d]) for d in rule.dims if attrs.get(d))
        lines.append(
            VoucherLine(
                account=rule.account,
                debit=abs(amount) if debit_side else Decimal(0),
                credit=Decimal(0) if debit_side else abs(amount),
                summary=summary,
                dims=dims,
                movement_ids=(m.movement_id,),
            )
        )
    if not lines:
        return None  # a zero-valued movement (free goods) has nothing to post
    meta = (("template", template.name), ("shop", m.shop or ""), ("sku", m.sku), ("warehouse", m.warehouse or ""))
    return Voucher(
        key=voucher_key("mv", m.movement_id, m.entity),
        book=m.entity,
        date=m.day,
        lines=tuple(lines),
        source_movement_ids=(m.movement_id,),
        meta=meta,
    )


def build_vouchers(
    movements: Iterable[MovementFact], templates: TemplateSet, costing: Costing
) -> list[Voucher]:
    """Build vouchers for movements in ledger order, skipping those without financial meaning."""
    return [v for m in movements if (v := build_voucher(m, templates, costing)) is not None]


def dry_run(m: MovementFact, templates: TemplateSet, costing: Costing, erp: str | None = None) -> dict[str, Any]:
    """What `zhongshu vouchers try` shows: matched template, valuation, voucher (ERP codes if erp given)."""
    template = templates.find(m)
    voucher = build_voucher(m, templates, costing)
    if voucher is not None and erp:
        voucher = voucher.with_accounts(templates.account_map(erp))
    return {
        "movement_id": m.movement_id,
        "template": template.name,
        "posts": template.posts,
        "voucher": voucher.to_dict() if voucher else None,
    }
