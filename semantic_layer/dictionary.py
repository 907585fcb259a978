"""The semantic dictionary: what each source's figure *means* in canonical stock types.

A field's meaning is a linear combination of base stock types, e.g. Douyin ``stock_num``
(可售库存) = free + presale_locked; Meituan ``stock`` (物理库存) = on_hand - picking. Each source
also has a trust score (0–100) and a tolerance, which arbitration uses to decide how strictly a
claim is checked. Files live in ``semantic_layer/dictionary/<source>.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from semantic_layer.observation import Observation
from semantic_layer.stock_types import BASE_TYPES, StockType, is_stock_type

DEFAULT_DIR = Path(__file__).with_name("dictionary")
SOURCE_CLASSES = ("wms", "ecommerce", "pos", "manual", "erp", "other")


class DictionaryError(ValueError):
    pass


@dataclass(frozen=True)
class Tolerance:
    """How far a claim may move a figure without review: the larger of ``units`` and ``percent`` of it."""

    units: int = 0
    percent: Decimal = Decimal(0)

    def allowed(self, current: int) -> int:
        return max(self.units, int(self.percent * abs(current) / 100))

    def allows(self, current: int, new: int) -> bool:
        return abs(new - current) <= self.allowed(current)


@dataclass(frozen=True)
class FieldMeaning:
    source: str
    field: str
    label: str  # the source's own name for it, e.g. 可售库存
    claim: str  # the stock_type an observation of this field is recorded under
    terms: tuple[tuple[StockType, int], ...]  # meaning = sum(coef * type)
    note: str = ""

    @property
    def is_simple(self) -> bool:
        return len(self.terms) == 1 and self.terms[0][1] == 1

    def formula(self) -> str:
        parts = [f"{'-' if c < 0 else '+'} {'' if abs(c) == 1 else f'{abs(c)}*'}{t.value}" for t, c in self.terms]
        text = " ".join(parts)
        return text[2:] if text.startswith("+ ") else text


@dataclass(frozen=True)
class SourceEntry:
    name: str
    title: str
    source_class: str
    trust: int
    tolerance: Tolerance
    fields: Mapping[str, FieldMeaning] = field(default_factory=dict)
    absent_means_zero: frozenset[str] = frozenset()
    """Stock types a full report from this source always lists when non-zero (a WMS inventory snapshot
    lists every inventory type it holds), so a term missing from the same event counts as 0."""


@dataclass(frozen=True)
class Decomposition:
    """Canonical observations derived from one claim, or why they could not be derived."""

    claim: Observation
    observations: tuple[Observation, ...] = ()
    missing: tuple[str, ...] = ()
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


class SemanticDictionary:
    def __init__(self, sources: Mapping[str, SourceEntry]) -> None:
        self.sources = dict(sources)
        self.instances: dict[str, str] = {}
        """Named source instances → the entry of their platform (``eu_store`` → ``shopify``)."""

    def alias(self, instance: str, entry: str) -> bool:
        """Read ``instance``'s claims with ``entry``'s meanings, trust and tolerance (False: no such entry)."""
        if entry not in self.sources or instance in self.sources:
            return False
        self.instances[instance] = entry
        return True

    def entry(self, source: str) -> SourceEntry:
        """The entry for ``source``: its own, its platform's (``alias``), or by name prefix — a named instance
        ``manual_franchise_12`` falls back to ``manual``."""
        if source in self.sources:
            return self.sources[source]
        if source in self.instances:
            return self.sources[self.instances[source]]
        prefixes = [n for n in self.sources if source.startswith(n + "_")]
        if prefixes:
            return self.sources[max(prefixes, key=len)]
        raise DictionaryError(f"source {source!r} is not in the semantic dictionary (known: {', '.join(sorted(self.sources))})")

    def trust(self, source: str) -> int:
        return self.entry(source).trust

    def tolerance(self, source: str) -> Tolerance:
        return self.entry(source).tolerance

    def meaning(self, source: str, field_or_claim: str) -> FieldMeaning | None:
        """The meaning of a source field (by field name, else by the stock type it is claimed as)."""
        fields = self.entry(source).fields
        if field_or_claim in fields:
            return fields[field_or_claim]
        by_claim = [m for m in fields.values() if m.claim == field_or_claim]
        return by_claim[0] if len(by_claim) == 1 else None

    def meaning_of(self, obs: Observation) -> FieldMeaning:
        """What ``obs`` means; a base-type claim with no dictionary field means itself."""
        found = self.meaning(obs.source, obs.field) if obs.field else None
        found = found or self.meaning(obs.source, obs.stock_type)
        if found is not None:
            return found
        if obs.stock_type in {t.value for t in BASE_TYPES}:
            t = StockType(obs.stock_type)
            return FieldMeaning(obs.source, obs.field or t.value, t.value, t.value, ((t, 1),))
        raise DictionaryError(
            f"source {obs.source!r} has no dictionary field for {obs.field or obs.stock_type!r} "
            f"and {obs.stock_type!r} is not a base stock type"
        )

    def decompose(self, claim: Observation, known: Mapping[str, int]) -> Decomposition:
        """Solve a claim for its one unknown term, given the other terms (stock type -> value).

        ``sellable 152`` from Douyin with ``presale_locked 8`` known gives ``free 144``. With every term
        known the claim is only checked; with two or more unknown it cannot be decomposed.
        """
        try:
            meaning = self.meaning_of(claim)
        except DictionaryError as exc:
            return Decomposition(claim, reason=str(exc))
        if meaning.is_simple:
            only = meaning.terms[0][0].value
            return Decomposition(claim, (replace(claim, stock_type=only, field=claim.field or meaning.field),))
        unknown = [(t, c) for t, c in meaning.terms if t.value not in known]
        rest = claim.quantity - sum(c * known[t.value] for t, c in meaning.terms if t.value in known)
        if not unknown:
            if rest != 0:
                return Decomposition(
                    claim, reason=f"{claim.source}.{meaning.field} = {meaning.formula()} disagrees with known terms by {rest}"
                )
            return Decomposition(claim)
        if len(unknown) > 1:
            names = tuple(t.value for t, _ in unknown)
            return Decomposition(
                claim,
                missing=names,
                reason=f"cannot decompose {claim.source}.{meaning.field} = {meaning.formula()}: unknown {', '.join(names)}",
            )
        t, c = unknown[0]
        if rest % c:
            return Decomposition(claim, reason=f"{claim.source}.{meaning.field}: {rest} is not divisible by {c} for {t.value}")
        solved = replace(claim, stock_type=t.value, quantity=rest // c, field=claim.field or meaning.field)
        return Decomposition(claim, (solved,))

    def canonicalize(self, observations: Iterable[Observation]) -> tuple[list[Observation], list[Decomposition]]:
        """Canonical observations for a batch (one event), using sibling figures as known terms.

        Composite claims are kept as they are (the cube stores what the source said) and their
        solved terms are added; the second list holds the claims that could not be solved.
        """
        batch = list(observations)
        out: list[Observation] = []
        failed: list[Decomposition] = []
        for obs in batch:
            meaning = None
            try:
                meaning = self.meaning_of(obs)
            except DictionaryError as exc:
                failed.append(Decomposition(obs, reason=str(exc)))
                continue
            if meaning.is_simple:
                out.append(replace(obs, stock_type=meaning.terms[0][0].value))
                continue
            out.append(obs)
            known = {t: 0 for t in self._absent_zero(obs.source)}
            known |= {
                m.terms[0][0].value: o.quantity
                for o in batch
                if o is not obs and (o.source, o.sku, o.location) == (obs.source, obs.sku, obs.location)
                for m in [self._simple_meaning(o)]
                if m is not None
            }
            result = self.decompose(obs, known)
            out.extend(result.observations)
            if not result.ok:
                failed.append(result)
        return out, failed

    def _absent_zero(self, source: str) -> frozenset[str]:
        try:
            return self.entry(source).absent_means_zero
        except DictionaryError:
            return frozenset()

    def _simple_meaning(self, obs: Observation) -> FieldMeaning | None:
        try:
            m = self.meaning_of(obs)
        except DictionaryError:
            return None
        return m if m.is_simple else None


def _fail(path: Path, key: str, message: str) -> DictionaryError:
    return DictionaryError(f"{path}: {key}: {message}")


def _parse_entry(path: Path, doc: Any) -> SourceEntry:
    if not isinstance(doc, dict):
        raise _fail(path, "<root>", "must be a mapping")
    name = doc.get("source")
    if not isinstance(name, str) or not name.isidentifier():
        raise _fail(path, "source", f"must be an identifier, got {name!r}")
    cls = doc.get("class", "other")
    if cls not in SOURCE_CLASSES:
        raise _fail(path, "class", f"{cls!r} is not one of {', '.join(SOURCE_CLASSES)}")
    trust = doc.get("trust")
    if not isinstance(trust, int) or isinstance(trust, bool) or not 0 <= trust <= 100:
        raise _fail(path, "trust", f"must be an integer 0..100, got {trust!r}")
    tol = doc.get("tolerance", {}) or {}
    if not isinstance(tol, dict) or set(tol) - {"units", "percent"}:
        raise _fail(path, "tolerance", "must be a mapping with units and/or percent")
    try:
        tolerance = Tolerance(int(tol.get("units", 0)), Decimal(str(tol.get("percent", 0))))
    except (ValueError, InvalidOperation):
        raise _fail(path, "tolerance", f"units must be an int and percent a number, got {tol!r}") from None
    if tolerance.units < 0 or tolerance.percent < 0:
        raise _fail(path, "tolerance", "must not be negative")
    fields_doc = doc.get("fields", {}) or {}
    if not isinstance(fields_doc, dict):
        raise _fail(path, "fields", "must be a mapping of field name -> meaning")
    fields = {str(k): _parse_field(path, name, str(k), v) for k, v in fields_doc.items()}
    absent = doc.get("absent_means_zero", []) or []
    if not isinstance(absent, list) or any(not isinstance(a, str) or a not in {t.value for t in BASE_TYPES} for a in absent):
        raise _fail(path, "absent_means_zero", f"must be a list of base stock types, got {absent!r}")
    return SourceEntry(name, str(doc.get("title", name)), cls, trust, tolerance, fields, frozenset(absent))


def _parse_field(path: Path, source: str, name: str, doc: Any) -> FieldMeaning:
    key = f"fields.{name}"
    if not isinstance(doc, dict):
        raise _fail(path, key, "must be a mapping with label, claim and meaning")
    meaning = doc.get("meaning")
    if not isinstance(meaning, dict) or not meaning:
        raise _fail(path, f"{key}.meaning", "must be a non-empty mapping of stock type -> coefficient")
    terms: list[tuple[StockType, int]] = []
    for t, c in meaning.items():
        if not is_stock_type(str(t)) or StockType(str(t)) not in BASE_TYPES:
            raise _fail(path, f"{key}.meaning.{t}", "is not a base stock type")
        if not isinstance(c, int) or isinstance(c, bool) or c == 0:
            raise _fail(path, f"{key}.meaning.{t}", f"coefficient must be a non-zero integer, got {c!r}")
        terms.append((StockType(str(t)), c))
    claim = doc.get("claim")
    if not isinstance(claim, str) or not claim.isidentifier():
        raise _fail(path, f"{key}.claim", f"must be an identifier, got {claim!r}")
    simple_as = terms[0][0].value if len(terms) == 1 and terms[0][1] == 1 else None
    if is_stock_type(claim) and StockType(claim) in BASE_TYPES and claim != simple_as:
        raise _fail(path, f"{key}.claim", f"base type {claim!r} can only be claimed by a field meaning exactly {claim}")
    return FieldMeaning(source, name, str(doc.get("label", name)), claim, tuple(terms), str(doc.get("note", "")))


def load_dictionary(directory: Path | str = DEFAULT_DIR) -> SemanticDictionary:
    """Load every ``*.yaml`` in ``directory``; any error names the file and key."""
    sources: dict[str, SourceEntry] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DictionaryError(f"{path}: invalid YAML: {exc}") from None
        entry = _parse_entry(path, doc)
        if entry.name in sources:
            raise _fail(path, "source", f"{entry.name!r} is defined twice")
        sources[entry.name] = entry
    if not sources:
        raise DictionaryError(f"{directory}: no dictionary files (*.yaml)")
    return SemanticDictionary(sources)
