"""Operator-configured entity extraction: per-source JSONPath rules over `detection.raw`.

Configuration (`ingest.entity_rules`, JSON in `CASESTREAM__INGEST__ENTITY_RULES`) maps a
key to a list of rules. A key matches a detection's `source` or its `format`; `"*"`
matches every detection. Keys match exactly (case-sensitive), and all matching lists
apply, most specific first: source, then format, then `"*"`. Paths are RFC 9535 JSONPath
(python-jsonpath in strict mode), checked when the settings load.

    {"splunk-prod": [{"path": "$.result.src_user", "type": "user", "role": "actor"},
                     {"path": "$.result.dest_hosts[*]", "type": "host"}]}
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Iterator
from itertools import islice
from typing import Annotated, Any

from jsonpath import JSONPath, JSONPathEnvironment, JSONPathError
from jsonpath.segments import JSONPathChildSegment
from jsonpath.selectors import IndexSelector, NameSelector, WildcardSelector
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1
from libs.common.logging import get_logger
from services.ingest.adapters.fields import ENTITY_VALUE_LIMIT, text

log = get_logger(__name__)

WILDCARD = "*"
# A hostile document may hold a million-element array: one rule adds at most
# RULE_ENTITY_LIMIT entities and looks at most at RULE_VALUE_LIMIT values (repeats of
# one value would otherwise make it walk the whole array to add nothing).
RULE_ENTITY_LIMIT = 100
RULE_VALUE_LIMIT = 1_000
# Paths with `..`, filters or slices run through the library at ~5 µs per node visited:
# one such rule took 1.6-2.5 s on a 4 MB document of 300,000 objects (plain paths: 60 ms).
# Documents past this many nodes skip those rules; real alerts have 8 to 170.
LIBRARY_NODE_LIMIT = 10_000
# Strict RFC 9535: one documented syntax operators can test elsewhere, and none of the
# library's extensions (`|`, `~`, `^`) whose meaning could change between its releases.
_JSONPATH = JSONPathEnvironment(strict=True)

SourceKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class EntityRule(BaseModel):
    """One JSONPath whose matches become entities of `type` with `role`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(min_length=1, max_length=1_024)
    type: EntityType
    role: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("path")
    @classmethod
    def _compiles(cls, path: str) -> str:
        compile_path(path)  # a bad path fails settings validation, naming the path
        return path


EntityRuleConfig = dict[SourceKey, list[EntityRule]]


def compile_path(path: str) -> JSONPath:
    """The compiled path, or a ValueError whose text names the path and the problem."""
    try:
        compiled = _JSONPATH.compile(path)
    except JSONPathError as error:
        # `.message` rather than str(): the detailed form is a multi-line caret drawing.
        raise ValueError(f"invalid JSONPath {path!r}: {error.message}") from error
    if not isinstance(compiled, JSONPath):  # unions only exist outside strict mode
        raise ValueError(f"invalid JSONPath {path!r}: compound paths are not supported")
    return compiled


class _CompiledRule:
    __slots__ = ("path", "role", "steps", "text", "type")

    def __init__(self, rule: EntityRule) -> None:
        self.text = rule.path
        self.path = compile_path(rule.path)
        self.steps = _plain_steps(self.path)
        self.type = rule.type
        self.role = rule.role

    def matches(self, raw: dict[str, Any]) -> Iterator[object]:
        """The matched nodes in RFC 9535 nodelist order."""
        if self.steps is None:
            return (match.obj for match in self.path.finditer(raw))
        return _walk(raw, self.steps, 0)


# A step of a plain path: a member name, an array index, or `*` (every child).
Step = str | int | None


def _plain_steps(path: JSONPath) -> tuple[Step, ...] | None:
    """The steps of a path made of names, indexes and wildcards only, else None. Most
    rules are such paths; walked directly they cost about a microsecond, where the
    library builds a match object and its normalized path for every node it visits."""
    steps: list[Step] = []
    for segment in path.segments:
        if not isinstance(segment, JSONPathChildSegment) or len(segment.selectors) != 1:
            return None
        selector = segment.selectors[0]
        if isinstance(selector, NameSelector):
            steps.append(selector.name)
        elif isinstance(selector, IndexSelector):
            steps.append(selector.index)
        elif isinstance(selector, WildcardSelector):
            steps.append(None)
        else:
            return None
    return tuple(steps)


def _walk(node: object, steps: tuple[Step, ...], at: int) -> Iterator[object]:
    if at == len(steps):
        yield node
        return
    step = steps[at]
    if step is None:
        children: Iterable[object] = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        for child in children:
            yield from _walk(child, steps, at + 1)
    elif isinstance(step, str):
        if isinstance(node, dict) and step in node:
            yield from _walk(node[step], steps, at + 1)
    elif isinstance(node, list) and -len(node) <= step < len(node):
        yield from _walk(node[step], steps, at + 1)


class EntityExtractor:
    """Built once from the configuration; `apply` adds the configured entities."""

    def __init__(self, config: EntityRuleConfig | None = None) -> None:
        self._by_key: dict[str, tuple[_CompiledRule, ...]] = {
            key: tuple(_CompiledRule(rule) for rule in rules)
            for key, rules in (config or {}).items()
            if rules
        }

    def _rules_for(self, source: str, format_name: str) -> tuple[_CompiledRule, ...]:
        """Source rules, then format rules, then `"*"`: on a (type, value) clash the most
        specific rule's role is kept. A key equal to both source and format applies once."""
        found = self._by_key.get(source, ())
        if format_name != source:
            found += self._by_key.get(format_name, ())
        if WILDCARD not in (source, format_name):
            found += self._by_key.get(WILDCARD, ())
        return found

    def has_rules_for(self, source: str, format_name: str) -> bool:
        return bool(self._by_key) and bool(self._rules_for(source, format_name))

    def apply(self, detection: DetectionV1) -> DetectionV1:
        """The detection with the rules' entities appended after the adapter's (each
        (type, value) once, first wins); the same object when no rule adds anything."""
        if not self._by_key:
            return detection
        rules = self._rules_for(detection.source, detection.format)
        if not rules:
            return detection
        seen = {(entity.type, entity.value) for entity in detection.entities}
        added: list[EntityV1] = []
        too_large: bool | None = None  # counted once, and only if a library rule applies
        for rule in rules:
            if rule.steps is None:
                if too_large is None:
                    too_large = _has_more_nodes(detection.raw, LIBRARY_NODE_LIMIT)
                if too_large:
                    _log_skipped(rule, detection, "document_too_large")
                    continue
            count = 0
            for value in islice(self._values(rule, detection), RULE_VALUE_LIMIT):
                if (rule.type, value) in seen:
                    continue
                seen.add((rule.type, value))
                # Already valid (a 1-2,048 char value, a checked role): skip re-validating.
                added.append(EntityV1.model_construct(type=rule.type, value=value, role=rule.role))
                count += 1
                if count >= RULE_ENTITY_LIMIT:
                    break
        if not added:
            return detection
        return detection.model_copy(update={"entities": [*detection.entities, *added]})

    def _values(self, rule: _CompiledRule, detection: DetectionV1) -> Iterator[str]:
        """Entity values of one rule in document order. A matched list of scalars (a
        Splunk multivalue field) counts as its items; objects and nested lists are skipped."""
        try:
            for found in rule.matches(detection.raw):
                items = islice(found, RULE_VALUE_LIMIT) if isinstance(found, list) else (found,)
                for item in items:
                    value = entity_value(rule.type, item)
                    if value is not None:
                        yield value
        except (JSONPathError, RecursionError) as error:
            # `..` past the library's depth limit (100): the rule keeps what it found so
            # far; the detection itself is fine.
            _log_skipped(rule, detection, type(error).__name__)


def _log_skipped(rule: _CompiledRule, detection: DetectionV1, reason: str) -> None:
    log.warning(
        "ingest.entity_rule_skipped",
        source=detection.source,
        detection_id=detection.detection_id,
        path=rule.text,
        reason=reason,
    )


def _has_more_nodes(raw: dict[str, Any], limit: int) -> bool:
    """Whether the document has more than `limit` values in all, counting no further."""
    count, pending = 0, [raw]
    while pending:
        node = pending.pop()
        children: Collection[Any] = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        count += len(children)
        if count > limit:
            return True
        pending.extend(children)
    return False


def entity_value(kind: EntityType, item: Any) -> str | None:
    """A string or number as an entity value, trimmed and clipped to the contract limit;
    None for anything else (objects, lists, booleans, null, NaN, empty text)."""
    if isinstance(item, bool) or not isinstance(item, str | int | float):
        return None
    try:
        # fields.text is what the adapters use, so dedup compares like with like.
        value = text(item)
    except ValueError:  # an int past Python's 4,300-digit str() limit
        return None
    if value is None:
        return None
    if kind is EntityType.IP:
        # As the adapters store them (canonical form); "-" or "unknown" is no address.
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return None
    return value[:ENTITY_VALUE_LIMIT]
