"""What tells the alert indexer which alerts to (re)write: `alerts.changed.v1` outbox rows
written by alerting in its grouping transaction, and the alert ids or case ids carried by
case events (moves between cases, deletion and restore). Pure."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from libs.common.contracts.alerts import (
    ALERTS_CHANGED_EVENT_TYPE,
    MAX_CHANGED_ALERTS,
    AlertsChangedV1,
)
from libs.common.contracts.envelope import CloudEventAttributes
from libs.common.contracts.topics import ALERTS_CHANGED

# Case events after which every alert of the case must be written again or removed: the
# case's deletion hides its alerts, its restoration shows them again.
WHOLE_CASE_EVENTS = frozenset({"case.deleted", "case.restored"})


def alerts_changed_outbox_rows(
    source: str, tenant_id: str, alert_ids: Iterable[uuid.UUID]
) -> list[dict[str, Any]]:
    """Outbox rows naming the changed alerts, at most MAX_CHANGED_ALERTS per message."""
    ordered = sorted(set(alert_ids))
    now = datetime.now(UTC)
    rows = []
    for start in range(0, len(ordered), MAX_CHANGED_ALERTS):
        message = AlertsChangedV1(
            tenant_id=tenant_id,
            alert_ids=ordered[start : start + MAX_CHANGED_ALERTS],
            changed_at=now,
        )
        attributes = CloudEventAttributes(
            source=source,
            type=ALERTS_CHANGED_EVENT_TYPE,
            time=now,
            subject=tenant_id,
            tenantid=tenant_id,
        )
        rows.append(
            {
                "event_id": uuid.UUID(attributes.id),
                "tenant_id": tenant_id,
                "topic": ALERTS_CHANGED.name,
                "key": tenant_id,
                "headers": attributes.to_headers(),
                "payload": message.model_dump(mode="json"),
            }
        )
    return rows


@dataclass
class PendingChanges:
    """Per tenant, the alerts to write again and the cases whose alerts all must be."""

    alerts: dict[str, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))
    cases: dict[str, set[uuid.UUID]] = field(default_factory=lambda: defaultdict(set))

    def tenants(self) -> list[str]:
        return sorted(set(self.alerts) | set(self.cases))

    def add_alerts_changed(self, message: AlertsChangedV1) -> None:
        self.alerts[message.tenant_id].update(message.alert_ids)

    def add_case_event(self, payload: Mapping[str, Any]) -> None:
        """A cases.events.v1 payload: its alert ids, and its case when the event changes
        whether the case's alerts may be found. Other fields are not read."""
        tenant_id = str(payload["tenant_id"])
        alert_ids: Sequence[Any] = payload.get("alert_ids") or []
        if alert_ids:
            self.alerts[tenant_id].update(uuid.UUID(str(a)) for a in alert_ids)
        if payload.get("type") in WHOLE_CASE_EVENTS:
            self.cases[tenant_id].add(uuid.UUID(str(payload["case_id"])))
