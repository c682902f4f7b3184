"""Read tenants' correlation rules from YAML (safe_load only: no tags, no code) and turn
validation failures into messages that name the file, the rule and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from libs.common.errors import InvalidInput
from services.alerting.correlation.rules import RuleSet
from services.alerting.correlation.settings import CorrelationSettings

RULE_FILE_SUFFIXES = (".yaml", ".yml")
MAX_TENANT_LENGTH = 64
RULE_TYPES = ("event_count", "temporal_ordered", "join", "baseline_deviation", "missing_event")


class InvalidCorrelationRules(InvalidInput):
    code = "invalid_correlation_rules"


def parse_rule_set(text: str, origin: str) -> RuleSet:
    """One tenant's rule set from YAML text; `origin` names it in error messages."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidCorrelationRules(f"{origin}: not valid YAML: {error}", origin=origin) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidCorrelationRules(
            f"{origin}: expected a mapping with a `rules` list", origin=origin
        )
    try:
        return RuleSet.model_validate(document)
    except ValidationError as error:
        problems = [_describe(problem, document) for problem in error.errors()]
        raise InvalidCorrelationRules(
            f"{origin}: " + "; ".join(problems), origin=origin, problems=problems
        ) from None


def load_rule_sets(settings: CorrelationSettings) -> dict[str, RuleSet]:
    """Every configured tenant's rules. Any invalid file stops the start-up: running with
    some rules silently missing would look like quiet, not like a configuration error."""
    files: dict[str, Path] = {}
    if settings.rules_dir is not None:
        if not settings.rules_dir.is_dir():
            raise InvalidCorrelationRules(f"{settings.rules_dir}: not a directory")
        for path in sorted(settings.rules_dir.iterdir()):
            if path.suffix in RULE_FILE_SUFFIXES and path.is_file():
                if path.stem in files:
                    raise InvalidCorrelationRules(f"{path}: tenant {path.stem!r} has two files")
                files[path.stem] = path
    files.update(settings.rules_files)
    rule_sets: dict[str, RuleSet] = {}
    for tenant_id, path in sorted(files.items()):
        if not 1 <= len(tenant_id) <= MAX_TENANT_LENGTH:
            raise InvalidCorrelationRules(f"{path}: {tenant_id!r} is not a tenant id")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise InvalidCorrelationRules(f"{path}: cannot be read: {error}") from None
        rule_sets[tenant_id] = parse_rule_set(text, str(path))
    return rule_sets


def _describe(problem: Any, document: dict[str, Any]) -> str:
    """`rule 'brute-force' (#2), threshold: Input should be greater than or equal to 2`."""
    location = list(problem["loc"])
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "union_tag_not_found":
        message = f"needs a `type`, one of {', '.join(RULE_TYPES)}"
    if len(location) < 2 or location[0] != "rules" or not isinstance(location[1], int):
        return f"{'.'.join(map(str, location)) or 'rules'}: {message}"
    index = location[1]
    entry = document["rules"][index] if isinstance(document.get("rules"), list) else None
    rule_id = entry.get("id") if isinstance(entry, dict) else None
    who = f"rule {rule_id!r} (#{index + 1})" if rule_id else f"rule #{index + 1}"
    rest = location[2:]
    if rest and isinstance(entry, dict) and rest[0] == entry.get("type"):
        rest = rest[1:]  # the union member's tag repeats the rule's type
    where = ".".join(str(part) for part in rest)
    return f"{who}, {where}: {message}" if where else f"{who}: {message}"
