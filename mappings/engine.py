"""The mapping engine: declarative YAML rules turn a raw payload into observations, deltas and orders.

Rule files live in ``mappings/rules/<connector>/<api version>.yaml``. Every jsonpath is compiled
once at load (``jsonpath_ng.ext``, so filters work); an error names the file, the rule and the
jsonpath. ``RuleBook.apply`` never raises for a bad payload: what no rule matches comes back as
``unmapped``, what a rule cannot read comes back in ``errors``.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as jsonpath_parse

from semantic_layer.dictionary import DictionaryError, SemanticDictionary, load_dictionary
from semantic_layer.observation import ORDER_KINDS, Observation, OrderEvent, OrderLine, StockDelta
from semantic_layer.stock_types import is_stock_type

DEFAULT_DIR = Path(__file__).with_name("rules")
_MISSING: Any = object()
TYPES = ("int", "decimal", "str", "bool", "datetime", "json")
META_KEYS = ("topic", "source_kind", "api_version")  # facts about the event, not in its payload


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class MappingResult:
    observations: tuple[Observation, ...] = ()
    orders: tuple[OrderEvent, ...] = ()
    deltas: tuple[StockDelta, ...] = ()
    unmapped: bool = False
    errors: tuple[str, ...] = ()
    rule_id: str = ""
    rule_version: str = ""

    @property
    def empty(self) -> bool:
        return not (self.observations or self.orders or self.deltas)


def _tz(text: str, where: str) -> tzinfo:
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", text.strip())
    if text.upper() in ("UTC", "Z"):
        return UTC
    if m is None:
        raise RuleError(f"{where}: timezone {text!r} must look like +08:00 or UTC")
    sign = 1 if m.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))


class ValueSpec:
    """How to read one output value: a constant, or jsonpath(s) plus modifiers.

    Keys: const | path (str or list: the first that finds something) | root (the same, against the
    whole payload instead of the current item; tried after path) | meta (topic, source_kind, api_version) ; type (int, decimal, str, bool, datetime, json) ; lookup
    (dict, applied to the raw value as text) ; default ; format ("prefix:{}") ; time_format (iso,
    epoch_s, epoch_ms or a strptime pattern) ; tz (for timestamps without an offset).
    """

    def __init__(self, spec: Any, where: str, default_tz: tzinfo) -> None:
        self.where = where
        if not isinstance(spec, dict):
            spec = {"const": spec}
        unknown = set(spec) - {"const", "path", "root", "meta", "type", "lookup", "default", "format", "time_format", "tz"}
        if unknown:
            raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        self.const = spec.get("const", _MISSING)
        self.meta = spec.get("meta")
        if self.meta is not None and self.meta not in META_KEYS:
            raise RuleError(f"{where}: meta must be one of {', '.join(META_KEYS)}, got {self.meta!r}")
        item_paths, root_paths = spec.get("path"), spec.get("root")
        if self.const is _MISSING and item_paths is None and root_paths is None and self.meta is None:
            raise RuleError(f"{where}: needs const, path, root or meta")
        # (compiled, text, read from the whole document?) — item paths first, then root fallbacks
        self.paths = [(*compile_path(p, where), False) for p in _as_list(item_paths)]
        self.paths += [(*compile_path(p, where), True) for p in _as_list(root_paths)]
        self.type = spec.get("type")
        if self.type is not None and self.type not in TYPES:
            raise RuleError(f"{where}: type {self.type!r} must be one of {', '.join(TYPES)}")
        self.lookup = spec.get("lookup")
        if self.lookup is not None and not isinstance(self.lookup, dict):
            raise RuleError(f"{where}: lookup must be a mapping")
        self.lookup = {str(k): v for k, v in (self.lookup or {}).items()} if self.lookup is not None else None
        self.default = spec.get("default", _MISSING)
        self.format = spec.get("format")
        self.time_format = spec.get("time_format", "iso")
        self.tz = _tz(spec["tz"], where) if "tz" in spec else default_tz

    def read(self, item: Any, root: Any, meta: dict[str, Any] | None = None) -> Any:
        if self.const is not _MISSING:
            return self.const
        if self.meta is not None:
            return self.convert((meta or {})[self.meta], f"meta.{self.meta}")
        value = _MISSING
        raw_paths = []
        for expr, text, from_root in self.paths:
            raw_paths.append(text)
            found = [m.value for m in expr.find(root if from_root else item)]
            if found and found[0] is not None and found[0] != "":
                value = found[0]
                break
        if value is _MISSING:
            if self.default is not _MISSING:
                return self.default
            raise LookupError(f"{' | '.join(raw_paths)} found nothing")
        return self.convert(value, " | ".join(raw_paths))

    def convert(self, value: Any, path: str) -> Any:
        if self.lookup is not None:
            key = str(value).lower() if isinstance(value, bool) else str(value)
            if key not in self.lookup:
                if self.default is not _MISSING:
                    return self.default
                raise LookupError(f"{path} value {value!r} is not in the lookup ({', '.join(self.lookup)})")
            value = self.lookup[key]
        try:
            value = self._typed(value)
        except (ValueError, TypeError, InvalidOperation, json.JSONDecodeError) as exc:
            raise LookupError(f"{path} value {value!r} is not a valid {self.type}: {exc}") from None
        if self.format is not None:
            value = str(self.format).format(value)
        return value

    def _typed(self, value: Any) -> Any:
        if self.type is None:
            return value
        if self.type == "int":
            if isinstance(value, bool):
                raise TypeError("a boolean is not an integer")
            d = Decimal(str(value).strip())
            if d != d.to_integral_value():
                raise ValueError("has a fractional part")
            return int(d)
        if self.type == "decimal":
            return Decimal(str(value).strip())
        if self.type == "str":
            return str(value)
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "y"):
                return True
            if text in ("false", "0", "no", "n"):
                return False
            raise ValueError("expected true/false")
        if self.type == "json":
            return json.loads(value) if isinstance(value, str) else value
        return self._datetime(value)

    def _datetime(self, value: Any) -> datetime:
        fmt = self.time_format
        if fmt in ("epoch_s", "epoch_ms"):
            seconds = Decimal(str(value)) / (1000 if fmt == "epoch_ms" else 1)
            return datetime.fromtimestamp(float(seconds), UTC)
        text = str(value).strip()
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00")) if fmt == "iso" else datetime.strptime(text, fmt)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.tz)
        return parsed.astimezone(UTC)


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def compile_path(text: Any, where: str) -> tuple[Any, str]:
    if not isinstance(text, str) or not text:
        raise RuleError(f"{where}: jsonpath must be a non-empty string, got {text!r}")
    try:
        return jsonpath_parse(text), text
    except (JSONPathError, Exception) as exc:  # the parser raises a few unrelated types on odd input
        raise RuleError(f"{where}: jsonpath {text!r} does not compile: {exc}") from None


_OBS_KEYS = {"sku", "location", "stock_type", "quantity", "observed_at", "field", "source"}
_DELTA_KEYS = {"sku", "location", "stock_type", "delta", "occurred_at", "reason", "ref", "field", "source"}
_ORDER_KEYS = {"kind", "order_ref", "occurred_at", "pay_to_deduct", "lines", "source"}
_LINE_KEYS = {"each", "sku", "qty", "location"}


@dataclass
class _Emit:
    kind: str  # observation | delta | order
    each: tuple[Any, str] | None
    specs: dict[str, ValueSpec]
    lines_each: tuple[Any, str] | None = None
    line_specs: dict[str, ValueSpec] = field(default_factory=dict)


@dataclass
class Rule:
    id: str
    version: int
    file: str
    file_version: str
    source: str
    topics: tuple[str, ...]
    when: list[tuple[tuple[Any, str], Any]]
    prepare_json: list[tuple[Any, str]]
    prepare_list: list[tuple[Any, str]]
    prepare_flatten: list[tuple[Any, str]]
    emits: list[_Emit]
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.file} rule {self.id}"

    @property
    def full_version(self) -> str:
        return f"{self.file_version}#{self.version}"

    def matches_topic(self, topic: str) -> bool:
        return not self.topics or any(fnmatch.fnmatchcase(topic, t) for t in self.topics)

    def matches(self, topic: str, doc: Any) -> bool:
        if not self.matches_topic(topic):
            return False
        for (expr, _), expected in self.when:
            found = [m.value for m in expr.find(doc)]
            if not found or (expected is not _MISSING and not any(str(v) == str(expected) for v in found)):
                return False
        return True

    def prepare(self, payload: Any) -> Any:
        """The payload as the rule's paths read it; a copy only when a prepare step rewrites it (nothing
        downstream writes to the document)."""
        if not (self.prepare_flatten or self.prepare_json or self.prepare_list):
            return payload
        doc = copy.deepcopy(payload)
        for expr, _ in self.prepare_flatten:
            for m in expr.find(doc):
                v = m.value
                if isinstance(v, dict) and len(v) == 1:
                    inner = next(iter(v.values()))
                    doc = m.full_path.update(doc, inner if isinstance(inner, list) else [inner])
        for expr, _ in self.prepare_json:
            for m in expr.find(doc):
                if isinstance(m.value, str):
                    doc = m.full_path.update(doc, json.loads(m.value))
        for expr, _ in self.prepare_list:
            for m in expr.find(doc):
                if isinstance(m.value, dict):
                    doc = m.full_path.update(doc, [m.value])
        return doc


def _items(each: tuple[Any, str] | None, doc: Any) -> Iterator[Any]:
    if each is None:
        yield doc
        return
    for m in each[0].find(doc):
        if isinstance(m.value, list):
            yield from m.value
        else:
            yield m.value


def _compile_rule(path: Path, file_version: str, default_source: str, default_tz: tzinfo, doc: Any, index: int) -> Rule:
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise RuleError(f"{path} rule #{index}: must be a mapping with an id")
    rid = doc["id"]
    where = f"{path} rule {rid}"
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RuleError(f"{where}: version must be a positive integer, got {version!r}")
    unknown = set(doc) - {"id", "version", "description", "match", "prepare", "emit", "source"}
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    match = doc.get("match") or {}
    topics = match.get("topic", [])
    topics = (topics,) if isinstance(topics, str) else tuple(map(str, topics))
    when: list[tuple[tuple[Any, str], Any]] = []
    raw_when = match.get("when", [])
    for w in [raw_when] if isinstance(raw_when, (str, dict)) else raw_when:
        if isinstance(w, str):
            when.append((compile_path(w, f"{where} match.when"), _MISSING))
        elif isinstance(w, dict) and "path" in w:
            when.append((compile_path(w["path"], f"{where} match.when"), w.get("equals", _MISSING)))
        else:
            raise RuleError(f"{where}: match.when entries are a jsonpath or {{path, equals}}")
    prep = doc.get("prepare") or {}

    def paths(key: str) -> list[tuple[Any, str]]:
        return [compile_path(p, f"{where} prepare.{key}") for p in prep.get(key, [])]

    emits_doc = doc.get("emit")
    if not isinstance(emits_doc, list) or not emits_doc:
        raise RuleError(f"{where}: emit must be a non-empty list")
    emits = [_compile_emit(f"{where} emit[{i}]", e, default_tz) for i, e in enumerate(emits_doc)]
    return Rule(
        rid, version, str(path), file_version, str(doc.get("source", default_source)), topics, when,
        paths("json"), paths("list"), paths("flatten"), emits, str(doc.get("description", "")),
    )


def _compile_emit(where: str, doc: Any, default_tz: tzinfo) -> _Emit:
    if not isinstance(doc, dict):
        raise RuleError(f"{where}: must be a mapping")
    kinds = [k for k in ("observation", "delta", "order") if k in doc]
    if len(kinds) != 1 or set(doc) - {"each", *kinds}:
        raise RuleError(f"{where}: needs exactly one of observation, delta, order (plus optional each)")
    kind = kinds[0]
    each = compile_path(doc["each"], f"{where} each") if "each" in doc else None
    body = doc[kind]
    if not isinstance(body, dict):
        raise RuleError(f"{where} {kind}: must be a mapping")
    allowed, required = {
        "observation": (_OBS_KEYS, {"sku", "stock_type", "quantity"}),
        "delta": (_DELTA_KEYS, {"sku", "stock_type", "delta"}),
        "order": (_ORDER_KEYS, {"kind", "order_ref"}),
    }[kind]
    if set(body) - allowed:
        raise RuleError(f"{where} {kind}: unknown key(s) {', '.join(sorted(set(body) - allowed))}")
    if required - set(body):
        raise RuleError(f"{where} {kind}: missing {', '.join(sorted(required - set(body)))}")
    specs = {k: ValueSpec(v, f"{where} {kind}.{k}", default_tz) for k, v in body.items() if k != "lines"}
    out = _Emit(kind, each, specs)
    if kind == "order" and "lines" in body:
        lines = body["lines"]
        if not isinstance(lines, dict) or set(lines) - _LINE_KEYS or {"sku", "qty"} - set(lines):
            raise RuleError(f"{where} order.lines: needs sku and qty (optional each, location)")
        out.lines_each = compile_path(lines["each"], f"{where} order.lines.each") if "each" in lines else None
        out.line_specs = {k: ValueSpec(v, f"{where} order.lines.{k}", default_tz) for k, v in lines.items() if k != "each"}
    return out


@dataclass
class RuleFile:
    path: str
    connector: str
    version: str
    source: str
    rules: list[Rule]


def load_file(path: Path) -> RuleFile:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"{path}: cannot read: {exc}") from None
    if not isinstance(doc, dict):
        raise RuleError(f"{path}: must be a mapping with connector, version, source, rules")
    connector = doc.get("connector")
    if connector != path.parent.name:
        raise RuleError(f"{path}: connector {connector!r} must equal its folder name {path.parent.name!r}")
    version = str(doc.get("version", ""))
    if version != path.stem:
        raise RuleError(f"{path}: version {version!r} must equal the file name {path.stem!r}")
    source = doc.get("source", connector)
    if not isinstance(source, str) or not source.isidentifier():
        raise RuleError(f"{path}: source must be an identifier, got {source!r}")
    default_tz = _tz(str(doc.get("timezone", "UTC")), str(path))
    rules_doc = doc.get("rules")
    if not isinstance(rules_doc, list) or not rules_doc:
        raise RuleError(f"{path}: rules must be a non-empty list")
    rules = [_compile_rule(path, version, source, default_tz, r, i) for i, r in enumerate(rules_doc)]
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise RuleError(f"{path} rule {r.id}: id is used twice in this file")
        seen.add(r.id)
    return RuleFile(str(path), connector, version, source, rules)


def _version_key(v: str) -> list[tuple[int, Any]]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-_]", v)]


class RuleBook:
    """Every connector's rule files, by connector and API version."""

    def __init__(self, files: list[RuleFile], problems: list[str] | None = None) -> None:
        self.files: dict[str, dict[str, RuleFile]] = {}
        for f in files:
            self.files.setdefault(f.connector, {})[f.version] = f
        self.problems = list(problems or [])

    def versions(self, connector: str) -> list[str]:
        return sorted(self.files.get(connector, {}), key=_version_key)

    def file_for(self, connector: str, api_version: str | None = None) -> RuleFile | None:
        """The file for that API version, else the newest one (old events keep their version)."""
        versions = self.files.get(connector, {})
        if api_version is not None and api_version in versions:
            return versions[api_version]
        ordered = self.versions(connector)
        return versions[ordered[-1]] if ordered else None

    def rule(self, rule_id: str, version: str | None = None) -> Rule:
        for by_version in self.files.values():
            for f in by_version.values():
                if version is not None and f.version != version:
                    continue
                for r in f.rules:
                    if r.id == rule_id:
                        return r
        raise RuleError(f"no mapping rule {rule_id!r}" + (f" in version {version}" if version else ""))

    def check(self, dictionary: SemanticDictionary | None = None) -> list[str]:
        """Problems found while loading (every file that did not compile), plus checks against the
        semantic dictionary: each constant stock type is canonical or a claim the source's dictionary
        declares, and each constant field is in the source's dictionary entry."""
        problems = list(self.problems)
        dictionary = dictionary or load_dictionary()
        for by_version in self.files.values():
            for f in by_version.values():
                for r in f.rules:
                    try:
                        entry = dictionary.entry(r.source)
                    except DictionaryError as exc:
                        problems.append(f"{r.label}: {exc}")
                        continue
                    claims = {m.claim for m in entry.fields.values()}
                    for e in r.emits:
                        st = e.specs.get("stock_type")
                        if st is not None and st.const is not _MISSING and not (
                            is_stock_type(str(st.const)) or st.const in claims
                        ):
                            problems.append(
                                f"{r.label}: stock_type {st.const!r} is neither canonical nor a claim of {entry.name} "
                                f"in the semantic dictionary"
                            )
                        fd = e.specs.get("field")
                        if (
                            e.kind == "observation" and fd is not None and fd.const is not _MISSING and entry.fields
                            and str(fd.const) not in entry.fields
                        ):
                            problems.append(f"{r.label}: field {fd.const!r} is not in the dictionary entry for {entry.name}")
                        k = e.specs.get("kind")
                        if k is not None and k.const is not _MISSING and k.const not in ORDER_KINDS:
                            problems.append(f"{r.label}: order kind {k.const!r} is not one of {', '.join(ORDER_KINDS)}")
                        for v in (k.lookup or {}).values() if k is not None else ():
                            if v not in ORDER_KINDS:
                                problems.append(f"{r.label}: order kind lookup value {v!r} is not one of {', '.join(ORDER_KINDS)}")
        return problems

    def apply(
        self,
        source_kind: str,
        topic: str,
        payload: Any,
        *,
        raw_event_id: int | None,
        received_at: datetime,
        api_version: str | None = None,
        source: str | None = None,
        rule_id: str | None = None,
    ) -> MappingResult:
        """Map one raw event. ``source`` names the source instance (default: the file's source);
        ``rule_id`` forces one rule (``mappings try``). Never raises on a bad payload."""
        rf = self.file_for(source_kind, api_version)
        if rf is None:
            return MappingResult(unmapped=True, errors=(f"no mapping rules for connector {source_kind!r}",))
        for rule in rf.rules:
            if rule_id is not None and rule.id != rule_id:
                continue
            if rule_id is None and not rule.matches_topic(topic):
                continue  # before preparing: a copy of the payload per rule tried is most of a mapping's cost
            try:
                doc = rule.prepare(payload)
                matched = rule.matches(topic, doc)
            except Exception as exc:  # odd payload shapes: this rule does not apply
                if rule_id is not None:
                    return MappingResult(errors=(f"{rule.label}: cannot prepare payload: {exc}",))
                continue
            if matched or rule_id is not None:
                meta = {"topic": topic, "source_kind": source_kind, "api_version": rf.version}
                return _run(rule, doc, meta, source or rule.source, raw_event_id, received_at)
        return MappingResult(unmapped=True, errors=(f"no rule in {rf.path} matches topic {topic!r}",))


def _run(
    rule: Rule, doc: Any, meta: dict[str, Any], source: str, raw_event_id: int | None, received_at: datetime
) -> MappingResult:
    obs: list[Observation] = []
    deltas: list[StockDelta] = []
    orders: list[OrderEvent] = []
    errors: list[str] = []
    common = {"raw_event_id": raw_event_id, "rule_id": rule.id, "rule_version": rule.full_version}
    for ei, emit in enumerate(rule.emits):
        for ii, item in enumerate(_items(emit.each, doc)):
            where = f"{rule.label} emit[{ei}]" + (f" item {ii} of {emit.each[1]}" if emit.each else "")
            try:
                v = {k: spec.read(item, doc, meta) for k, spec in emit.specs.items()}
                src = str(v.pop("source", source))
                for when in ("observed_at", "occurred_at"):
                    if v.get(when) is None:
                        v[when] = received_at
                if emit.kind == "observation":
                    v.pop("occurred_at")
                    v.setdefault("location", "default")
                    obs.append(Observation(source=src, **_strs(v, "sku", "location", "stock_type", "field"), **common))
                elif emit.kind == "delta":
                    v.pop("observed_at")
                    v.setdefault("location", "default")
                    deltas.append(
                        StockDelta(source=src, **_strs(v, "sku", "location", "stock_type", "field", "reason", "ref"), **common)
                    )
                else:
                    lines = _lines(emit, item, doc, meta)
                    v.pop("observed_at")
                    v["pay_to_deduct"] = bool(v.get("pay_to_deduct", False))
                    orders.append(OrderEvent(source=src, lines=lines, **_strs(v, "order_ref"), **common))
            except Exception as exc:  # a payload must never crash the pipeline; it is reported instead
                errors.append(f"{where}: {exc}")
    if not (obs or orders or deltas or errors):  # never a silent drop: say the rule found nothing to emit
        errors.append(f"{rule.label}: matched but produced nothing (no item found by its each paths)")
    return MappingResult(tuple(obs), tuple(orders), tuple(deltas), False, tuple(errors), rule.id, rule.full_version)


def _strs(values: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: (str(v) if k in keys and v is not None else v) for k, v in values.items()}


def _lines(emit: _Emit, item: Any, root: Any, meta: dict[str, Any]) -> tuple[OrderLine, ...]:
    """Every line of one order; one unreadable line rejects the order (never a partial order)."""
    if not emit.line_specs:
        return ()
    out: list[OrderLine] = []
    for li, line in enumerate(_items(emit.lines_each, item)):
        try:
            v = {k: spec.read(line, root, meta) for k, spec in emit.line_specs.items()}
            loc = v.get("location")
            out.append(OrderLine(str(v["sku"]), v["qty"], None if loc is None else str(loc)))
        except (LookupError, ValueError, TypeError) as exc:
            raise LookupError(f"line {li}: {exc}") from None
    return tuple(out)


def load_rules(directory: Path | str = DEFAULT_DIR, *, strict: bool = False) -> RuleBook:
    """Load every ``<connector>/<version>.yaml``. Broken files are left out and listed by
    ``check()``; with ``strict`` the first one raises RuleError."""
    files: list[RuleFile] = []
    problems: list[str] = []
    for path in sorted(Path(directory).glob("*/*.yaml")):
        try:
            files.append(load_file(path))
        except RuleError as exc:
            if strict:
                raise
            problems.append(str(exc))
    return RuleBook(files, problems)

