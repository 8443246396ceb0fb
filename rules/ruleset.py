"""Rule sets: YAML files of edits, with includes, parameters and a content hash.

A rule set file::

    ruleset: census2020
    title: {zh: …, en: …}
    include: [base.yaml]           # optional; paths relative to this file
    params: {head_min_age: 15}     # override the included files' parameters
    disable: [V13]                 # optional: drop included rules
    field_weights: {id_number: 3, age: 0.5, default: 1}   # reliability, for error localisation
    rules:
      - id: R01
        description: {zh: …, en: …}
        severity: error            # error / warning / info
        scope: person              # person / household / dataset / death
        when: "relationship == '0'"   # optional condition
        test: "age_ym >= head_min_age"
        hint: {zh: …, en: …}
        examples: {pass: {…}, fail: {…}}

A rule with the id of an included rule replaces it. Everything is checked when the set loads
— unknown fields, functions, parameters, codes, bad syntax — before any data is read. The
content hash covers exactly what will run (resolved rules and parameters), not the layout
of the files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from audit_engine.ledger.chain import canonical_json
from rules.language import Compiled, RuleError, compile_expr

SEVERITIES = ("error", "warning", "info")
SCOPES = ("person", "household", "dataset", "death")
RULE_KEYS = {"id", "description", "severity", "scope", "when", "test", "hint", "examples"}
MAX_INCLUDE_DEPTH = 10
BUNDLED = "census2020.yaml"


@dataclass(frozen=True)
class Rule:
    id: str
    description: dict[str, str]
    severity: str
    scope: str
    test_text: str
    when_text: str | None
    hint: dict[str, str]
    test: Compiled
    when: Compiled | None
    examples: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        """Fields the rule reads (its test, then its condition): shown with each flag."""
        return tuple(dict.fromkeys(self.test.fields + (self.when.fields if self.when else ())))

    def as_data(self) -> dict[str, Any]:
        return {"id": self.id, "description": self.description, "severity": self.severity, "scope": self.scope,
                "when": self.when_text, "test": self.test_text, "hint": self.hint}


@dataclass(frozen=True)
class RuleSet:
    name: str
    title: dict[str, str]
    params: dict[str, Any]
    rules: tuple[Rule, ...]
    files: dict[str, str]          # file -> sha256 of its bytes
    field_weights: dict[str, float] = field(default_factory=dict)   # reliability, for error localisation

    def weight(self, field_name: str) -> float:
        """Reliability weight of a field (``default`` for fields not listed, else 1)."""
        return float(self.field_weights.get(field_name, self.field_weights.get("default", 1.0)))

    @property
    def content_hash(self) -> str:
        data = {"name": self.name, "params": self.params, "field_weights": self.field_weights,
                "rules": [r.as_data() for r in self.rules]}
        return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()

    def by_scope(self, scope: str) -> list[Rule]:
        return [r for r in self.rules if r.scope == scope]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


class RuleSetError(ValueError):
    """A rule set that cannot be loaded; the message names the file and, where known, the line."""


# ------------------------------------------------------------------------- YAML with line numbers
class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers, for every mapping, the line of each key's value."""


def _mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__lines__"] = {k.value: v.start_mark.line + 1 + (1 if getattr(v, "style", None) in ("|", ">") else 0)
                            for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "__lines__"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def bundled_path(name: str = BUNDLED) -> Path:
    return Path(str(resources.files("rules").joinpath(name)))


def load_ruleset(path: str | Path | None = None, params: dict[str, Any] | None = None) -> RuleSet:
    """Load, resolve includes, apply parameter overrides (``params`` last), compile every rule."""
    path = Path(path) if path else bundled_path()
    files: dict[str, str] = {}
    raw_rules, name, title, merged, weights = _read(path, files, depth=0, stack=())
    merged = {**merged, **(params or {})}
    rules: list[Rule] = []
    for data, lines, src in raw_rules:
        rules.append(_rule(data, lines, src, merged))
    return RuleSet(name, title, merged, tuple(rules), files, weights)


def _read(path: Path, files: dict[str, str], depth: int, stack: tuple[Path, ...]):
    if depth > MAX_INCLUDE_DEPTH:
        raise RuleSetError(f"{path.name}: includes nested more than {MAX_INCLUDE_DEPTH} deep")
    resolved = path.resolve()
    if resolved in stack:
        raise RuleSetError(f"{path.name}: include cycle ({' -> '.join(p.name for p in (*stack, resolved))})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleSetError(f"{path}: cannot read the rule set ({exc.strerror})") from None
    files[path.name] = hashlib.sha256(data).hexdigest()
    try:
        doc = yaml.load(data.decode("utf-8"), Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RuleSetError(f"{path.name}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(doc, dict):
        raise RuleSetError(f"{path.name}: a rule set is a mapping with 'rules:'")
    unknown = set(doc) - {"ruleset", "title", "include", "params", "disable", "rules", "__lines__", "example_base",
                          "field_weights"}
    if unknown:
        raise RuleSetError(f"{path.name}: unknown key(s) {sorted(unknown)}")
    rules: dict[str, tuple[dict, dict, str]] = {}
    params: dict[str, Any] = {}
    weights: dict[str, float] = {}
    for inc in doc.get("include") or []:
        inc_rules, _, _, inc_params, inc_weights = _read(path.parent / str(inc), files, depth + 1, (*stack, resolved))
        params.update(inc_params)
        weights.update(inc_weights)
        for r in inc_rules:
            rules[r[0]["id"]] = r
    params.update(_strip(doc.get("params") or {}))
    weights.update({str(k): float(v) for k, v in _strip(doc.get("field_weights") or {}).items()})
    for rid in doc.get("disable") or []:
        if rid not in rules:
            raise RuleSetError(f"{path.name}: disable names {rid!r}, which no included file defines")
        del rules[rid]
    seen: set[str] = set()
    for i, r in enumerate(doc.get("rules") or []):
        if not isinstance(r, dict) or "id" not in r:
            raise RuleSetError(f"{path.name}: rule #{i + 1} has no id")
        rid = str(r["id"])
        if rid in seen:
            raise RuleSetError(f"{path.name}, line {r['__lines__'].get('id', '?')}: rule id {rid} is defined twice")
        seen.add(rid)
        rules[rid] = (r, r.get("__lines__", {}), path.name)
    return list(rules.values()), str(doc.get("ruleset", path.stem)), _strip(doc.get("title") or {}), params, weights


def _rule(r: dict, lines: dict, src: str, params: dict[str, Any]) -> Rule:
    rid = str(r["id"])
    unknown = set(r) - RULE_KEYS - {"__lines__"}
    if unknown:
        raise RuleSetError(f"{src}, line {lines.get('id', '?')}: rule {rid}: unknown key(s) {sorted(unknown)}")
    severity, scope = r.get("severity", "error"), r.get("scope", "person")
    if severity not in SEVERITIES:
        raise RuleSetError(f"{src}, line {lines.get('severity', '?')}: rule {rid}: severity must be one of {SEVERITIES}")
    if scope not in SCOPES:
        raise RuleSetError(f"{src}, line {lines.get('scope', '?')}: rule {rid}: scope must be one of {SCOPES}")
    if "test" not in r:
        raise RuleSetError(f"{src}, line {lines.get('id', '?')}: rule {rid} has no test")
    desc = _strip(r.get("description") or {})
    if not (isinstance(desc, dict) and desc.get("zh") and desc.get("en")):
        raise RuleSetError(f"{src}, line {lines.get('id', '?')}: rule {rid} needs a description in zh and en")

    def comp(key: str) -> Compiled | None:
        if r.get(key) is None:
            return None
        try:
            return compile_expr(str(r[key]), rule_id=rid, scope=scope, params=params, where=f" ({key})")
        except RuleError as exc:
            base = lines.get(key)
            where = f"{src}, line {base + (exc.line or 1) - 1}" if base else src
            raise RuleSetError(f"{where}: {exc}") from None

    return Rule(rid, desc, severity, scope, str(r["test"]), None if r.get("when") is None else str(r["when"]),
                _strip(r.get("hint") or {}), comp("test"), comp("when"), _strip(r.get("examples") or {}), src)
