"""What only the OpenSearch store does, on a real OpenSearch (skipped, with the reason,
where no Docker engine answers and CASESTREAM_TEST_OPENSEARCH_URL is not set): the index
template and daily indices, per-item bulk results, idempotent writes, the backfill."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from libs.common.alertstore import opensearch_layout as layout
from libs.common.alertstore.indexer import AlertIndexer
from libs.common.alertstore.model import AlertQuery
from libs.common.alertstore.opensearch import OpenSearchAlertStore
from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.alertstore.reindex import reindex
from libs.common.db.engine import SessionFactory, transaction
from libs.common.settings import OpenSearchSettings
from services.alerting.service import GroupingService
from tests.alertstore.support import STORE, seen
from tests.support.detections import host_rule_policy

SILENT = GroupingService(STORE, host_rule_policy())  # as alerting runs with Postgres alone


@pytest.fixture
async def opensearch(opensearch_url: str) -> AsyncIterator[OpenSearchAlertStore]:
    settings = OpenSearchSettings(
        hosts=[opensearch_url],
        index_prefix=f"cs-test-{uuid.uuid4().hex[:8]}",
        number_of_replicas=0,
        bulk_initial_backoff_seconds=0.01,
    )
    store = OpenSearchAlertStore(settings)
    yield store
    await store.client.indices.delete(index=layout.index_pattern(settings))
    await store.client.indices.delete_index_template(name=layout.template_name(settings))
    await store.close()


async def stored_before_the_switch(sessions: SessionFactory, tenant: str) -> PostgresAlertStore:
    async with transaction(sessions) as session:
        await SILENT.process(
            session, [seen(tenant, "d1", users=("alice",)), seen(tenant, "d2", seconds=86_400)]
        )
    return PostgresAlertStore(sessions)


async def test_daily_indices_get_the_template_mapping(
    opensearch: OpenSearchAlertStore, sessions: SessionFactory, tenant: str
) -> None:
    postgres = await stored_before_the_switch(sessions, tenant)
    outcome = await reindex(postgres, opensearch, tenant, AlertQuery())
    assert (len(outcome.indexed), outcome.failed) == (2, [])
    prefix = layout.index_prefix(opensearch.settings)
    mappings: dict[str, Any] = await opensearch.client.indices.get_mapping(index=f"{prefix}*")
    assert sorted(mappings) == [f"{prefix}2026.03.01", f"{prefix}2026.03.02"]
    properties = mappings[f"{prefix}2026.03.01"]["mappings"]["properties"]
    assert properties["tenant_id"]["type"] == "keyword"
    assert properties["effective_time"]["type"] == "date"
    assert properties["detection"] == {"type": "object", "enabled": False}


async def test_writing_again_replaces_and_never_duplicates(
    opensearch: OpenSearchAlertStore, sessions: SessionFactory, tenant: str
) -> None:
    postgres = await stored_before_the_switch(sessions, tenant)
    indexer = AlertIndexer(postgres, opensearch)
    ids = [alert.id for alert in (await postgres.search(tenant, AlertQuery())).items]
    for _ in range(3):
        assert (await indexer.sync(tenant, ids)).failed == []
    await opensearch.refresh()
    assert await opensearch.count(tenant, AlertQuery()) == 2
    assert await opensearch.count(tenant, AlertQuery(entity="alice")) == 1


async def test_a_refused_item_is_reported_and_the_others_are_written(
    opensearch: OpenSearchAlertStore, sessions: SessionFactory, tenant: str
) -> None:
    postgres = await stored_before_the_switch(sessions, tenant)
    good, other = (await postgres.search(tenant, AlertQuery(), payload=True)).items
    # Not a number: the strict mapping refuses this one document (400), not the batch.
    bad = dataclasses.replace(other, occurrence_count="many")  # type: ignore[arg-type]
    outcome = await opensearch.index([good, bad])
    assert outcome.indexed == [str(good.id)]
    assert [(f.alert_id, f.status) for f in outcome.failed] == [(str(bad.id), 400)]
    assert "mapper_parsing_exception" in outcome.failed[0].reason
    await opensearch.refresh()
    assert [a.id for a in (await opensearch.search(tenant, AlertQuery())).items] == [good.id]


async def test_an_older_read_written_late_does_not_overwrite_a_newer_one(
    opensearch: OpenSearchAlertStore, sessions: SessionFactory, tenant: str
) -> None:
    postgres = await stored_before_the_switch(sessions, tenant)
    alert = (await postgres.search(tenant, AlertQuery(), payload=True)).items[0]
    newer = dataclasses.replace(alert, occurrence_count=3)
    assert (await opensearch.index([newer], version=2_000)).failed == []
    # Two indexers raced: the one that read first writes last.
    outcome = await opensearch.index([alert], version=1_000)
    assert (outcome.indexed, outcome.failed) == ([str(alert.id)], [])
    await opensearch.refresh()
    stored = await opensearch.get(tenant, alert.id)
    assert stored is not None
    assert stored.occurrence_count == 3
