"""Alerting's tables: alerts, grouping slots, repeats, correlation state."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from libs.common.db.columns import (
    count_column,
    document_column,
    json_column,
    stored_at_column,
    tenant_column,
    tz_column,
)


class GroupingSlot(SQLModel, table=True):
    """The one open grouping slot per (tenant, group key): locked inside the grouping
    transaction, so two alerting instances can never open two cases for one key."""

    __tablename__ = "grouping_slots"
    # A case's slots, for the retention purger (the key leads with the group key).
    __table_args__ = (Index("ix_grouping_slots_tenant_case", "tenant_id", "case_id"),)

    tenant_id: str = Field(primary_key=True, max_length=64)
    group_key: str = Field(primary_key=True, max_length=2_048)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    window_start: datetime = Field(sa_column=tz_column())
    window_end: datetime = Field(sa_column=tz_column())


class CorrelationState(SQLModel, table=True):
    """What correlation remembers per (tenant, rule, entity) between batches. Read and
    written under an advisory lock inside the alerting batch transaction."""

    __tablename__ = "correlation_states"
    __table_args__ = (
        Index(
            "ix_correlation_states_tenant_due",
            "tenant_id",
            "due_at",
            postgresql_where=text("due_at IS NOT NULL"),
        ),
        Index("ix_correlation_states_tenant_updated", "tenant_id", "updated_at"),
    )

    tenant_id: str = Field(primary_key=True, max_length=64)
    rule_id: str = Field(primary_key=True, max_length=128)
    # sha256 of entity_key: entity values can be long, primary keys should not be.
    key_digest: str = Field(primary_key=True, max_length=64)
    entity_key: str = Field(max_length=2_304)
    state: dict[str, Any] = Field(sa_column=json_column())
    # When the state must be evaluated without a new detection (missing_event).
    due_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    updated_at: datetime = Field(sa_column=tz_column(server_now=True))


class CorrelationContribution(SQLModel, table=True):
    """Which detection already counted for which (tenant, rule, entity): a redelivered
    detection finds its row and counts nothing twice. Pruned behind each rule's window."""

    __tablename__ = "correlation_contributions"

    tenant_id: str = Field(primary_key=True, max_length=64)
    rule_id: str = Field(primary_key=True, max_length=128)
    key_digest: str = Field(primary_key=True, max_length=64)
    detection_id: str = Field(primary_key=True, max_length=256)
    event_time: datetime = Field(sa_column=tz_column())


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "detection_id"),
        Index("ix_alerts_tenant_case", "tenant_id", "case_id"),
        Index("ix_alerts_tenant_effective_time", "tenant_id", "effective_time"),
        Index(
            "ix_alerts_tenant_fingerprint",
            "tenant_id",
            "fingerprint",
            "effective_time",
            postgresql_where=text("fingerprint IS NOT NULL"),
        ),
        # Alert search by entity or host (the alert store, GET /api/v1/alerts).
        Index("ix_alerts_entity_keys", "entity_keys", postgresql_using="gin"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    detection_id: str = Field(max_length=256)
    # None: the policy did not let this alert open a case and none was open to join.
    case_id: uuid.UUID | None = Field(default=None, foreign_key="cases.id")
    title: str = Field(max_length=1_024)
    severity: str = Field(max_length=16)
    rule_id: str = Field(max_length=256)
    rule_name: str = Field(max_length=512)
    host: str | None = Field(default=None, max_length=1_024)
    source: str = Field(max_length=128)
    group_key: str = Field(max_length=2_048)
    event_time: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    effective_time: datetime = Field(sa_column=tz_column())
    time_fallback: bool = False
    ingested_at: datetime = Field(sa_column=tz_column())
    # Wall clock at insert (clock_timestamp, not the transaction start), for latency.
    stored_at: datetime = Field(sa_column=stored_at_column())
    # As published on detections.v1 (text, not json or jsonb: stored once, read whole).
    detection: dict[str, Any] = Field(sa_column=document_column())
    # Each "<tenant>/<type>=<folded value>" key of its entities and host, folded like
    # case_entities; written by alerting (NewAlert.entity_keys). The SQL function of 0019
    # computes the same keys from a stored detection: the tests hold the two together.
    entity_keys: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    # Why this alert is in its case: policy and version, key values, window, decision.
    grouping: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    # Repeats of the same detection id: counted here, never a second alert. The first
    # occurrence's id tells its redelivery apart from a real repeat. first seen = ingested_at.
    occurrence_id: str | None = Field(default=None, max_length=128)
    # The tenant's dedup fingerprint when its policy names fields (policies/dedup.py).
    fingerprint: str | None = Field(default=None, max_length=64)
    occurrence_count: int = Field(sa_column=count_column())
    last_seen: datetime = Field(sa_column=tz_column())


class AlertMatchedEvent(SQLModel, table=True):
    """The source events a cased alert's detection matched, written with the alert while
    the tenant groups by the chain strategy: 'which open case holds an alert over this
    event' is one index lookup, and follows the alert through merges and splits (the
    case comes from alerts.case_id, never stored here)."""

    __tablename__ = "alert_matched_events"
    # Deleting alerts (the retention purger) checks this key for every alert, and the
    # purger removes an alert's rows by it: without the index both scan the table.
    __table_args__ = (Index("ix_alert_matched_events_alert_id", "alert_id"),)

    tenant_id: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=256)
    alert_id: uuid.UUID = Field(primary_key=True, foreign_key="alerts.id")


class DetectionOccurrence(SQLModel, table=True):
    """Each repeat occurrence counted on an alert, so a redelivered repeat counts once."""

    __tablename__ = "detection_occurrences"

    tenant_id: str = Field(primary_key=True, max_length=64)
    occurrence_id: str = Field(primary_key=True, max_length=128)
    detection_id: str = Field(max_length=256)
    seen_at: datetime = Field(sa_column=tz_column())
