"""Rows written through column arrays (ArrayInsert), array columns and chunked statements
included, read back as written on PostgreSQL; and stored detections and outbox payloads use lz4
wherever the server offers it (migrations 0024, 0029)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.array_insert import ArrayInsert
from libs.common.db.engine import SessionFactory
from libs.common.db.jsonb import SerializedJSON

NOTES = ArrayInsert(
    "notes_under_test",
    {"id": "integer", "label": "text", "doc": "jsonb", "weight": "integer"},
    "RETURNING id",
    defaults={"weight": 7},
)


async def scratch_table(session: AsyncSession) -> None:
    await session.execute(
        text(
            "CREATE TEMP TABLE notes_under_test (id integer PRIMARY KEY, label text,"
            " doc jsonb, weight integer, made_at timestamptz DEFAULT now()) ON COMMIT DROP"
        )
    )


async def test_rows_read_back_as_written_with_defaults_and_nulls(
    sessions: SessionFactory,
) -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "label": "plain", "doc": {"a": [1, "é"]}, "weight": 2},
        {"id": 2, "label": None, "doc": SerializedJSON('{"b":true}')},  # weight left out
        {"id": 3, "doc": None},  # label left out, doc SQL NULL (not JSON null)
    ]
    async with sessions() as session, session.begin():
        await scratch_table(session)
        inserted = (await session.execute(NOTES.statement, NOTES.parameters(rows))).scalars()
        assert sorted(inserted) == [1, 2, 3]
        stored = (
            await session.execute(
                text(
                    "SELECT id, label, doc, doc IS NULL AS doc_is_null, weight,"
                    " made_at IS NOT NULL AS defaulted FROM notes_under_test ORDER BY id"
                )
            )
        ).all()
    assert [tuple(row) for row in stored] == [
        (1, "plain", {"a": [1, "é"]}, False, 2, True),
        (2, None, {"b": True}, False, 7, True),
        (3, None, None, True, 7, True),
    ]


async def test_one_statement_text_whatever_the_number_of_rows(sessions: SessionFactory) -> None:
    async with sessions() as session, session.begin():
        await scratch_table(session)
        for first, count in ((1, 1), (10, 5), (100, 250)):
            rows = [{"id": first + n, "doc": {"n": n}} for n in range(count)]
            result = await session.execute(NOTES.statement, NOTES.parameters(rows))
            assert len(result.all()) == count
        assert await session.scalar(text("SELECT count(*) FROM notes_under_test")) == 256


@pytest.mark.parametrize(("table", "column"), [("alerts", "detection"), ("outbox", "payload")])
async def test_large_documents_use_lz4_where_the_server_has_it(
    sessions: SessionFactory, table: str, column: str
) -> None:
    async with sessions() as session:
        offers_lz4 = await session.scalar(
            text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                " WHERE name = 'default_toast_compression'"
            )
        )
        method = await session.scalar(
            text(
                "SELECT attcompression::text FROM pg_attribute"
                " WHERE attrelid = CAST(:table AS regclass) AND attname = :column"
            ),
            {"table": table, "column": column},
        )
    assert method == ("l" if offers_lz4 else "")  # "": the server's default, pglz


async def test_many_rows_go_in_statements_of_the_set_size_in_their_order(
    sessions: SessionFactory,
) -> None:
    pairs = ArrayInsert(
        "notes_under_test",
        {"id": "integer", "label": "text", "tags": "text[]"},
        "RETURNING id",
        rows_per_statement=2,
    )
    rows: list[dict[str, Any]] = [
        {"id": n, "label": f"n{n}", "tags": [f"t{n}", 'quote"d', "back\\slash", "{,}"]}
        for n in range(5)
    ]
    chunks = list(pairs.parameter_chunks(rows))
    assert [chunk["id"] for chunk in chunks] == [[0, 1], [2, 3], [4]]
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                "CREATE TEMP TABLE notes_under_test (id integer PRIMARY KEY, label text,"
                " tags text[]) ON COMMIT DROP"
            )
        )
        for chunk in chunks:
            await session.execute(pairs.statement, chunk)
        stored = (
            await session.execute(text("SELECT id, label, tags FROM notes_under_test ORDER BY id"))
        ).all()
    assert [tuple(row) for row in stored] == [(r["id"], r["label"], r["tags"]) for r in rows]
