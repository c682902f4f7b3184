"""Alert topics. `alerts.v2`: every alert stored by alerting, with its case when it has
one and the grouping decision that placed it. `alerts.v1` (deprecated, see
docs/alert-topics.md): alerts with a case only, as its `case_id` is required.
`alerts.changed.v1`: which alerts changed, for the alert indexer (OpenSearch only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from libs.common.contracts.detections import RuleRefV1, Severity
from libs.common.contracts.envelope import TenantId

ALERT_EVENT_TYPE = "casestream.alert.v1"
ALERT_V2_EVENT_TYPE = "casestream.alert.v2"


class AlertV1(BaseModel):
    schema_version: Literal[1] = 1
    alert_id: uuid.UUID
    tenant_id: TenantId
    detection_id: str = Field(min_length=1, max_length=256)
    case_id: uuid.UUID
    title: str
    severity: Severity
    rule: RuleRefV1
    host: str | None = None
    group_key: str
    effective_time: datetime
    created_at: datetime


class GroupingDecision(StrEnum):
    OPENED_CASE = "opened_case"
    JOINED_CASE = "joined_case"
    # The policy did not let it open a case and none was open to join (see `reason`).
    NO_CASE = "no_case"


class AlertGroupingV2(BaseModel):
    """Why the alert is where it is: the summary of `GET /api/v1/alerts/{id}/why`."""

    decision: GroupingDecision
    # joined_open_case, no_case_for_key, outside_window, case_full, shared_event,
    # below_min_severity, not_tailored, benign_entity, ... (new reasons may appear).
    reason: str
    # The strategy that made the key (entity, host+rule, technique, category+sensor,
    # chain, correlation); strategy_fallback: the policy's own found nothing to key on.
    strategy: str
    strategy_fallback: bool = False
    policy_version: int
    # A continuation of a full case: the full case's id.
    continues_case_id: uuid.UUID | None = None
    # Chain strategy: the matched events it shares with its case's alerts.
    shared_event_ids: list[str] = Field(default_factory=list)


class AlertV2(BaseModel):
    schema_version: Literal[2] = 2
    alert_id: uuid.UUID
    tenant_id: TenantId
    detection_id: str = Field(min_length=1, max_length=256)
    # None: stored without a case (grouping.decision is no_case).
    case_id: uuid.UUID | None = None
    title: str
    severity: Severity
    rule: RuleRefV1
    source: str
    host: str | None = None
    group_key: str
    # The source's event time (None when it gave none) and the time grouping used.
    event_time: datetime | None = None
    effective_time: datetime
    ingested_at: datetime
    # None only for alerts written without a grouping decision.
    grouping: AlertGroupingV2 | None = None
    created_at: datetime


ALERTS_CHANGED_EVENT_TYPE = "casestream.alerts.changed.v1"
MAX_CHANGED_ALERTS = 1_000


class AlertsChangedV1(BaseModel):
    """Alerts that alerting stored or whose counts it changed in one committed batch,
    with or without a case. Written to the outbox in the same transaction as the change,
    only while the alert store is OpenSearch; its alert indexer re-reads these alerts from
    Postgres and writes them to OpenSearch."""

    schema_version: Literal[1] = 1
    tenant_id: TenantId
    alert_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_CHANGED_ALERTS)
    changed_at: datetime
