"""Custom case fields: a tenant's typed definitions and the checks every value passes on
its way into a case (at creation, on a patch, and as a list filter).

Values are kept in the case's JSONB `custom_fields` in one canonical form per type, so
that equality (a changed value, an audit event, a `@>` filter) means the same thing
everywhere: dates as `YYYY-MM-DD`, timestamps as UTC ISO 8601, numbers as floats,
multi-select values deduplicated in the order given."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.errors import InvalidInput

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_DEFINITIONS = 100
MAX_TEXT_LENGTH = 8_192
MAX_OPTIONS = 200
MAX_OPTION_LENGTH = 256
MAX_JSON_BYTES = 16_384
INT_RANGE = (-(2**63), 2**63 - 1)


class CustomFieldType(StrEnum):
    TEXT = "text"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"
    SELECT = "select"
    MULTI_SELECT = "multi_select"
    JSON = "json"


CHOICE_TYPES = (CustomFieldType.SELECT, CustomFieldType.MULTI_SELECT)


class CustomFieldSpec(BaseModel):
    """What an admin defines for a key (the key itself is in the URL)."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    type: CustomFieldType
    label: str = Field(min_length=1, max_length=256)
    required: bool = Field(default=False, description="must be set when a case is opened")
    options: list[str] = Field(
        default_factory=list,
        max_length=MAX_OPTIONS,
        description="the allowed values; select and multi_select only",
    )
    max_length: int | None = Field(
        default=None, ge=1, le=MAX_TEXT_LENGTH, description=f"text only; {MAX_TEXT_LENGTH} if unset"
    )

    @model_validator(mode="after")
    def _consistent(self) -> CustomFieldSpec:
        if self.type in CHOICE_TYPES:
            if not self.options:
                raise ValueError(f"a {self.type.value} field needs options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must be unique")
            if any(not 1 <= len(o) <= MAX_OPTION_LENGTH for o in self.options):
                raise ValueError(f"options are 1 to {MAX_OPTION_LENGTH} characters")
        elif self.options:
            raise ValueError("options are for select and multi_select fields only")
        if self.max_length is not None and self.type is not CustomFieldType.TEXT:
            raise ValueError("max_length is for text fields only")
        return self


class CustomFieldDef(CustomFieldSpec):
    key: str = Field(pattern=KEY_PATTERN)


def _problem(key: str, problem: str) -> InvalidInput:
    return InvalidInput(f"custom field {key}: {problem}", field=key, problem=problem)


def stored_custom_value(definition: CustomFieldDef, value: Any) -> Any:
    """`value` in its canonical stored form, or InvalidInput naming the key and problem."""
    key, kind = definition.key, definition.type
    if kind is CustomFieldType.TEXT:
        limit = definition.max_length or MAX_TEXT_LENGTH
        if not isinstance(value, str):
            raise _problem(key, "expected text")
        if len(value) > limit:
            raise _problem(key, f"longer than {limit} characters")
        return value
    if kind is CustomFieldType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _problem(key, "expected an integer")
        if not INT_RANGE[0] <= value <= INT_RANGE[1]:
            raise _problem(key, "integer out of the 64-bit range")
        return value
    if kind is CustomFieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _problem(key, "expected a number")
        if not math.isfinite(value):
            raise _problem(key, "expected a finite number")
        return float(value)
    if kind is CustomFieldType.BOOL:
        if not isinstance(value, bool):
            raise _problem(key, "expected true or false")
        return value
    if kind is CustomFieldType.DATE:
        return _date(key, value)
    if kind is CustomFieldType.TIMESTAMP:
        return _timestamp(key, value)
    if kind is CustomFieldType.SELECT:
        if not isinstance(value, str) or value not in definition.options:
            raise _problem(key, "not one of the options")
        return value
    if kind is CustomFieldType.MULTI_SELECT:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _problem(key, "expected a list of options")
        unknown = [v for v in value if v not in definition.options]
        if unknown:
            raise _problem(key, f"not among the options: {unknown[0][:64]}")
        return list(dict.fromkeys(value))
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_JSON_BYTES:
        raise _problem(key, f"JSON larger than {MAX_JSON_BYTES} bytes")
    return value


def _date(key: str, value: Any) -> str:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _problem(key, "expected a date as YYYY-MM-DD") from None


def _timestamp(key: str, value: Any) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _problem(key, "expected an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise _problem(key, "timestamp needs a time zone (e.g. Z or +00:00)")
    return moment.astimezone(UTC).isoformat()


def checked_values(
    definitions: Sequence[CustomFieldDef],
    current: Mapping[str, Any],
    requested: Mapping[str, Any],
    *,
    opening: bool,
) -> dict[str, Any]:
    """The case's custom fields after applying `requested` (a partial map; None removes a
    value) to `current`. A stale value whose definition was deleted can be removed, not
    set. Opening a case, every required field must have a value."""
    by_key = {d.key: d for d in definitions}
    result = dict(current)
    for key, value in requested.items():
        if value is None:
            result.pop(key, None)
            continue
        definition = by_key.get(key)
        if definition is None:
            raise _problem(key, "no such custom field")
        result[key] = stored_custom_value(definition, value)
    if opening:
        missing = sorted(d.key for d in definitions if d.required and d.key not in result)
        if missing:
            raise InvalidInput(
                f"custom field {missing[0]}: required when opening a case",
                field=missing[0],
                problem="required",
                missing=missing,
            )
    return result


def filter_document(
    definitions: Sequence[CustomFieldDef], terms: Mapping[str, list[str]]
) -> dict[str, Any]:
    """The JSONB document a case must contain for `cf.<key>=<value>` query terms: equality
    for single values, "contains every one" for multi_select. Query values are text, so
    they are parsed per type first."""
    by_key = {d.key: d for d in definitions}
    document: dict[str, Any] = {}
    for key, raw_values in terms.items():
        definition = by_key.get(key)
        if definition is None:
            raise _problem(key, "no such custom field")
        if definition.type is CustomFieldType.JSON:
            raise _problem(key, "JSON fields cannot be filtered")
        if definition.type is CustomFieldType.MULTI_SELECT:
            document[key] = stored_custom_value(definition, raw_values)
            continue
        if len(raw_values) > 1:
            raise _problem(key, "give one value to filter on")
        document[key] = stored_custom_value(definition, _parsed(definition, raw_values[0]))
    return document


def _parsed(definition: CustomFieldDef, raw: str) -> Any:
    kind = definition.type
    try:
        if kind is CustomFieldType.INT:
            return int(raw)
        if kind is CustomFieldType.NUMBER:
            return float(raw)
    except ValueError:
        expected = "an integer" if kind is CustomFieldType.INT else "a number"
        raise _problem(definition.key, f"expected {expected}") from None
    if kind is CustomFieldType.BOOL:
        if raw not in ("true", "false"):
            raise _problem(definition.key, "expected true or false")
        return raw == "true"
    return raw
