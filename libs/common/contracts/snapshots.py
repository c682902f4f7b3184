"""Checked-in JSON Schema snapshots of every topic's message model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from libs.common.contracts.topics import ALL_TOPICS, json_schema

SNAPSHOT_DIR = Path(__file__).parent / "schemas"


def snapshot_path(topic_name: str) -> Path:
    return SNAPSHOT_DIR / f"{topic_name}.json"


def current_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for topic in ALL_TOPICS:
        schema = json_schema(topic)
        if schema is not None:
            schemas[topic.name] = schema
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_snapshots() -> list[Path]:
    SNAPSHOT_DIR.mkdir(exist_ok=True)
    written = []
    for name, schema in current_schemas().items():
        path = snapshot_path(name)
        path.write_text(render(schema))
        written.append(path)
    return written
