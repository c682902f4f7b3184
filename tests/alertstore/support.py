"""The alert store contract suite's harness: detections grouped by the real alerting
service into Postgres, then (for OpenSearch) fed through the real alert indexer from the
outbox rows the relay would publish, exactly as in production minus Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text

from libs.common.alertstore.changes import PendingChanges
from libs.common.alertstore.indexer import AlertIndexer
from libs.common.alertstore.opensearch import OpenSearchAlertStore
from libs.common.alertstore.protocol import AlertStore
from libs.common.casestore.store import CaseStore
from libs.common.contracts.alerts import AlertsChangedV1
from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1, Severity
from libs.common.contracts.topics import ALERTS_CHANGED, CASE_EVENTS
from libs.common.db.engine import SessionFactory, transaction
from libs.common.policies.alerting import AlertingPolicy, CaseCreation
from services.alerting.service import BatchOutcome, GroupingService
from tests.support.detections import T0, detection, host_rule_policy

STORE = CaseStore("casestream/alerting-test")
GROUPING = GroupingService(STORE, host_rule_policy(), announce_changes=True)
# Detections below critical open no case: they are stored as alerts without one.
NO_CASES = GroupingService(
    STORE,
    AlertingPolicy(
        grouping=host_rule_policy().grouping,
        case_creation=CaseCreation(min_severity=Severity.CRITICAL),
    ),
    announce_changes=True,
)


def seen(
    tenant: str,
    detection_id: str,
    *,
    seconds: float = 0,
    host: str = "h1",
    rule: str = "r1",
    users: tuple[str, ...] = (),
    occurrence: str | None = None,
) -> DetectionV1:
    """A detection at T0 + seconds (microseconds kept), naming users as entities."""
    base = detection(tenant, detection_id, host=host, rule=rule, occurrence=occurrence)
    at = T0 + timedelta(seconds=seconds)
    entities = [EntityV1(type=EntityType.USER, value=user) for user in users]
    return base.model_copy(update={"event_time": at, "effective_time": at, "entities": entities})


@dataclass
class Harness:
    kind: str
    store: AlertStore
    sessions: SessionFactory
    indexer: AlertIndexer | None = None
    opensearch: OpenSearchAlertStore | None = None

    async def group(
        self, detections: list[DetectionV1], service: GroupingService = GROUPING
    ) -> BatchOutcome:
        async with transaction(self.sessions) as session:
            outcome = await service.process(session, detections)
        await self.sync(detections[0].tenant_id)
        return outcome

    async def sync(self, tenant: str) -> None:
        """What the relay and the alert indexer do after commits. Every outbox row of the
        tenant is applied again each time, which the indexer must take (idempotence)."""
        if self.indexer is None or self.opensearch is None:
            return
        async with self.sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT topic, payload FROM outbox WHERE tenant_id = :t"
                    " AND topic = ANY(CAST(:topics AS text[])) ORDER BY id"
                ),
                {"t": tenant, "topics": [ALERTS_CHANGED.name, CASE_EVENTS.name]},
            )
        changes = PendingChanges()
        for row in rows:
            if row.topic == ALERTS_CHANGED.name:
                changes.add_alerts_changed(AlertsChangedV1.model_validate(row.payload))
            else:
                changes.add_case_event(row.payload)
        outcome = await self.indexer.apply(changes)
        assert outcome.failed == [], outcome.failed
        await self.opensearch.refresh()
