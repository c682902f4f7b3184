"""The alert indexer: writes alerts from Postgres, the system of record, to the OpenSearch
alert store. Idempotent: it always writes an alert as Postgres holds it now, under the
alert's id, so a message read twice, or read late, writes the same document again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from libs.common.alertstore.changes import PendingChanges
from libs.common.alertstore.model import IndexOutcome
from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.alertstore.protocol import AlertIndex
from libs.common.logging import get_logger

log = get_logger(__name__)
READ_CHUNK = 500  # alerts read from Postgres (with payloads) and written per bulk request


class AlertIndexer:
    def __init__(self, source: PostgresAlertStore, target: AlertIndex) -> None:
        self._source = source
        self._target = target

    async def sync(self, tenant_id: str, alert_ids: Sequence[uuid.UUID]) -> IndexOutcome:
        """Write these alerts as they are now; remove those whose case is deleted."""
        outcome = IndexOutcome()
        ordered = sorted(set(alert_ids))
        for start in range(0, len(ordered), READ_CHUNK):
            read = await self._source.for_indexing(tenant_id, ordered[start : start + READ_CHUNK])
            outcome.merge(await self._target.index(read.visible, read.version))
            outcome.merge(await self._target.remove(read.hidden, read.version))
        return outcome

    async def apply(self, changes: PendingChanges) -> IndexOutcome:
        outcome = IndexOutcome()
        for tenant_id in changes.tenants():
            ids = set(changes.alerts.get(tenant_id, set()))
            cases = sorted(changes.cases.get(tenant_id, set()))
            ids.update(await self._source.alert_ids_of_cases(tenant_id, cases))
            tenant_outcome = await self.sync(tenant_id, sorted(ids))
            log.info(
                "alert_indexer.synced",
                tenant_id=tenant_id,
                indexed=len(tenant_outcome.indexed),
                removed=len(tenant_outcome.removed),
                failed=len(tenant_outcome.failed),
            )
            outcome.merge(tenant_outcome)
        return outcome
