"""Migration 0026 on a database with alerts in it: their detections survive the change to
json, their entity keys are computed from them, and the downgrade puts both back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command

from libs.common.migrations import alembic_config
from libs.embedded.postgres import asyncpg_dsn, create_database, database_name, drop_database

DETECTION = {
    "detection_id": "d1",
    "host": "WS-1",
    "entities": [
        {"type": "user", "value": "Alice"},
        {"type": "ip", "value": "10.0.0.1"},
        {"type": "user", "value": ""},  # no key: empty value
        "not an entity",
    ],
    "raw": {"note": "kept", "nested": {"n": [1, 2.5, None, True]}},
}


@pytest.fixture
async def database_at_0025(postgres_server: str) -> AsyncIterator[str]:
    url = await create_database(postgres_server, f"cs_mig_{uuid.uuid4().hex[:10]}")
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0025")
    yield url
    await drop_database(postgres_server, database_name(url))


async def insert_alert_at_0025(connection: asyncpg.Connection, alert_id: uuid.UUID) -> None:
    await connection.execute(
        "INSERT INTO alerts (id, tenant_id, detection_id, title, severity, rule_id,"
        " rule_name, host, source, group_key, effective_time, time_fallback, ingested_at,"
        " detection, last_seen) VALUES ($1, 't1', 'd1', 'title', 'low', 'r1', 'Rule',"
        " 'WS-1', 'test', 'k', now(), false, now(), $2::jsonb, now())",
        alert_id,
        json.dumps(DETECTION),
    )


async def test_stored_alerts_keep_their_detection_and_get_their_keys(
    database_at_0025: str,
) -> None:
    alert_id = uuid.uuid4()
    connection = await asyncpg.connect(asyncpg_dsn(database_at_0025))
    try:
        await insert_alert_at_0025(connection, alert_id)
        await asyncio.to_thread(command.upgrade, alembic_config(database_at_0025), "0026")
        row = await connection.fetchrow(
            "SELECT pg_typeof(detection)::text AS kind, detection::text AS detection,"
            " entity_keys FROM alerts WHERE id = $1",
            alert_id,
        )
        assert row["kind"] == "json"
        assert json.loads(row["detection"]) == DETECTION
        assert sorted(row["entity_keys"]) == ["t1/host=ws-1", "t1/ip=10.0.0.1", "t1/user=alice"]
        index = await connection.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_alerts_entity_keys'"
        )
        assert "gin (entity_keys)" in index

        await asyncio.to_thread(command.downgrade, alembic_config(database_at_0025), "0025")
        kind, detection = await connection.fetchrow(
            "SELECT pg_typeof(detection)::text, detection::text FROM alerts WHERE id = $1",
            alert_id,
        )
        assert kind == "jsonb"
        assert json.loads(detection) == DETECTION
        columns = await connection.fetchval(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'alerts' AND column_name = 'entity_keys'"
        )
        assert columns == 0
        index = await connection.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_alerts_entity_keys'"
        )
        assert "casestream_alert_entity_keys" in index
    finally:
        await connection.close()


async def test_0030_keeps_each_detection_s_text_and_its_compression(
    database_at_0025: str,
) -> None:
    written = '{"detection_id": "d1", "raw": {"note": "a\\u0000b", "spaced":  [1, 2]}}'
    alert_id = uuid.uuid4()
    config = alembic_config(database_at_0025)
    await asyncio.to_thread(command.upgrade, config, "0029")
    connection = await asyncpg.connect(asyncpg_dsn(database_at_0025))
    try:
        await connection.execute(
            "INSERT INTO alerts (id, tenant_id, detection_id, title, severity, rule_id,"
            " rule_name, host, source, group_key, effective_time, time_fallback, ingested_at,"
            " detection, entity_keys, last_seen) VALUES ($1, 't1', 'd1', 'title', 'low', 'r1',"
            " 'Rule', 'WS-1', 'test', 'k', now(), false, now(), $2::json, '{}', now())",
            alert_id,
            written,
        )
        compression_at_0029 = await connection.fetchval(COLUMN_COMPRESSION)
        await asyncio.to_thread(command.upgrade, config, "0030")
        kind, detection = await connection.fetchrow(
            "SELECT pg_typeof(detection)::text, detection FROM alerts WHERE id = $1", alert_id
        )
        # Byte for byte what was written, escapes and spacing included.
        assert (kind, detection) == ("text", written)
        # A type change alone would reset the column to the server's default (pglz).
        assert await connection.fetchval(COLUMN_COMPRESSION) == compression_at_0029

        await asyncio.to_thread(command.downgrade, config, "0029")
        kind, detection = await connection.fetchrow(
            "SELECT pg_typeof(detection)::text, detection::text FROM alerts WHERE id = $1",
            alert_id,
        )
        assert (kind, detection) == ("json", written)
        assert await connection.fetchval(COLUMN_COMPRESSION) == compression_at_0029
    finally:
        await connection.close()


COLUMN_COMPRESSION = (
    "SELECT attcompression::text FROM pg_attribute"
    " WHERE attrelid = 'alerts'::regclass AND attname = 'detection'"
)
