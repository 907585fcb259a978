"""Views: named, versioned formulas over cube cells and ledger balances, recomputed on change.

Definitions live in ``semantic_layer/views/*.yaml``. ``ViewRegistry.affected_by`` answers which
views read a changed cell, so only those are recomputed. ``ViewEngine`` is the pure, in-memory
incremental engine (the hub does the same against its tables); ``full_recompute`` is the
from-scratch reference the engine must always agree with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from semantic_layer.cube import CubeState
from semantic_layer.formula import (
    LEDGER_SOURCE,
    EvalError,
    EvalResult,
    Formula,
    Number,
    ParseError,
    Ref,
    parse,
)
from semantic_layer.observation import Observation

__all__ = [
    "EvalError",
    "EvalResult",
    "Formula",
    "ParseError",
    "Ref",
    "ViewDefinition",
    "ViewEngine",
    "ViewError",
    "ViewRegistry",
    "full_recompute",
    "load_views",
    "parse",
    "resolver_for",
]

DEFAULT_DIR = Path(__file__).with_name("views")
LedgerKey = tuple[str, str, str]  # (sku, bucket, location)


class ViewError(ValueError):
    pass


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    version: int
    formula: Formula
    description: str = ""
    missing: Literal["zero", "error"] = "zero"

    def evaluate(self, resolver: Callable[[Ref], Number | None]) -> EvalResult:
        return self.formula.evaluate(resolver, missing=self.missing)


class ViewRegistry:
    def __init__(self, views: Iterable[ViewDefinition]) -> None:
        self.views: dict[str, ViewDefinition] = {}
        for v in views:
            if v.name in self.views:
                raise ViewError(f"view {v.name!r} is defined twice")
            self.views[v.name] = v

    def get(self, name: str) -> ViewDefinition:
        try:
            return self.views[name]
        except KeyError:
            raise ViewError(f"no view named {name!r} (known: {', '.join(sorted(self.views))})") from None

    def readers(self, ref: Ref | str) -> list[ViewDefinition]:
        """Views whose formula names exactly this reference (e.g. ``wms.on_hand``)."""
        target = _one_ref(ref) if isinstance(ref, str) else ref
        return [v for v in self.views.values() if target in v.formula.dependencies()]

    def affected_by(self, source: str, stock_type: str, location: str) -> list[ViewDefinition]:
        """Views a change to this cell (or ``hub`` balance) can change: recompute only these."""
        return [
            v for v in self.views.values() if any(r.reads(source, stock_type, location) for r in v.formula.dependencies())
        ]


def _one_ref(text: str) -> Ref:
    refs = parse(text).dependencies()
    if len(refs) != 1:
        raise ViewError(f"{text!r} is not a single reference such as wms.on_hand")
    return refs.pop()


def load_views(directory: Path | str = DEFAULT_DIR) -> ViewRegistry:
    """Load every ``*.yaml`` in ``directory``; errors name the file, the view and the problem."""
    views: list[ViewDefinition] = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ViewError(f"{path}: invalid YAML: {exc}") from None
        items = doc.get("views") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ViewError(f"{path}: expected a top-level 'views:' list")
        for i, item in enumerate(items):
            views.append(_parse_view(path, i, item))
    try:
        return ViewRegistry(views)
    except ViewError as exc:
        raise ViewError(f"{directory}: {exc}") from None


def _parse_view(path: Path, index: int, item: object) -> ViewDefinition:
    where = f"{path}: views[{index}]"
    if not isinstance(item, dict):
        raise ViewError(f"{where}: must be a mapping with name, version, formula")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ViewError(f"{where}: name must be a non-empty string")
    where = f"{path}: view {name}"
    version = item.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ViewError(f"{where}: version must be a positive integer, got {version!r}")
    missing = item.get("missing", "zero")
    if missing not in ("zero", "error"):
        raise ViewError(f"{where}: missing must be 'zero' or 'error', got {missing!r}")
    try:
        formula = parse(item.get("formula"))  # type: ignore[arg-type]
    except ParseError as exc:
        raise ViewError(f"{where}: formula: {exc}") from None
    return ViewDefinition(name, version, formula, str(item.get("description", "")).strip(), missing)


def resolver_for(
    sku: str, cube: CubeState, ledger: Mapping[LedgerKey, int] | None = None
) -> Callable[[Ref], Number | None]:
    """Resolve references for one sku: ``hub.*`` from ledger balances, the rest from the cube."""
    balances = ledger or {}

    def resolve(ref: Ref) -> Number | None:
        if ref.source == LEDGER_SOURCE:
            found = [q for (s, b, loc), q in balances.items() if s == sku and b == ref.stock_type and ref.location in (None, loc)]
            return sum(found) if found else None
        return cube.value(ref.source, sku, ref.stock_type, ref.location)

    return resolve


ViewKey = tuple[str, str]  # (view name, sku)


def full_recompute(
    registry: ViewRegistry, observations: Iterable[Observation], ledger: Mapping[LedgerKey, int] | None = None
) -> dict[ViewKey, EvalResult]:
    """Every view for every sku that appears anywhere, from scratch."""
    cube = CubeState()
    for obs in observations:
        cube.add(obs)
    skus = cube.skus() | {sku for (sku, _, _) in (ledger or {})}
    out: dict[ViewKey, EvalResult] = {}
    for sku in sorted(skus):
        resolve = resolver_for(sku, cube, ledger)
        for view in registry.views.values():
            out[(view.name, sku)] = view.evaluate(resolve)
    return out


class ViewEngine:
    """Incremental view values: each change recomputes only the views that read it, for that sku."""

    def __init__(self, registry: ViewRegistry) -> None:
        self.registry = registry
        self.cube = CubeState()
        self.ledger: dict[LedgerKey, int] = {}
        self.values: dict[ViewKey, EvalResult] = {}
        self._skus: set[str] = set()

    def observe(self, obs: Observation) -> dict[ViewKey, EvalResult]:
        """Add a claim; returns the recomputed view values (empty if the claim was stale)."""
        if not self.cube.add(obs):
            return {}
        return self._changed(obs.sku, obs.source, obs.stock_type, obs.location)

    def set_balance(self, sku: str, bucket: str, location: str, quantity: int) -> dict[ViewKey, EvalResult]:
        """A ledger balance changed; returns the recomputed view values."""
        self.ledger[(sku, bucket, location)] = quantity
        return self._changed(sku, LEDGER_SOURCE, bucket, location)

    def _changed(self, sku: str, source: str, stock_type: str, location: str) -> dict[ViewKey, EvalResult]:
        views = list(self.registry.views.values()) if sku not in self._skus else self.registry.affected_by(
            source, stock_type, location
        )
        self._skus.add(sku)  # a new sku gets every view, so it has a value even with no inputs yet
        resolve = resolver_for(sku, self.cube, self.ledger)
        out = {(v.name, sku): v.evaluate(resolve) for v in views}
        self.values.update(out)
        return out
