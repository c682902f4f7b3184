"""Row ids made in bulk are random UUIDs that behave like uuid.uuid4()'s everywhere they go."""

from __future__ import annotations

import uuid

import msgspec

from libs.common.db.ids import new_row_ids


def test_row_ids_are_distinct_random_version_4_uuids() -> None:
    ids = new_row_ids(2_000)
    assert len(set(ids)) == 2_000
    assert all(isinstance(i, uuid.UUID) for i in ids)
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)


def test_a_row_id_equals_hashes_and_serializes_as_its_uuid() -> None:
    (row_id,) = new_row_ids(1)
    plain = uuid.UUID(str(row_id))
    assert row_id == plain
    assert hash(row_id) == hash(plain)
    assert {plain: 1}[row_id] == 1
    assert msgspec.json.decode(msgspec.json.encode({"id": row_id})) == {"id": str(plain)}
