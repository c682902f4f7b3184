"""Delivery: the outbox, webhook deliveries, playbook runs, issued API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Identity,
    Index,
    Integer,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from libs.common.db.columns import (
    json_column,
    message_column,
    tenant_column,
    tz_column,
)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        CheckConstraint("batch_messages >= 1", name="batch_messages_positive"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    event_id: uuid.UUID = Field(unique=True)
    tenant_id: str = Field(sa_column=tenant_column())
    topic: str = Field(max_length=255)
    key: str = Field(max_length=1_024)
    headers: dict[str, Any] = Field(sa_column=message_column())
    payload: dict[str, Any] = Field(sa_column=message_column())
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    sent_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
    # NULL: the row is one message. N: a batch row, whose payload is an array of N
    # messages sharing its headers (libs/common/outbox_batches.py).
    batch_messages: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "url"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    event_id: uuid.UUID
    event_type: str = Field(max_length=64)
    url: str = Field(max_length=2_048)
    status: str = Field(max_length=16)
    attempts: int = 0
    response_status: int | None = None
    error: str | None = Field(default=None, max_length=2_048)
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    delivered_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))


class PlaybookRun(SQLModel, table=True):
    __tablename__ = "playbook_runs"
    __table_args__ = (UniqueConstraint("playbook", "event_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    playbook: str = Field(max_length=128)
    event_id: uuid.UUID
    case_id: uuid.UUID
    status: str = Field(max_length=16)
    error: str | None = Field(default=None, max_length=2_048)
    result: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    started_at: datetime = Field(sa_column=tz_column(server_now=True))
    finished_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))


class ApiKey(SQLModel, table=True):
    """A source credential. Only the SHA-256 digest of the key is kept: keys are 256-bit
    random tokens, so a fast digest is as safe as a slow hash and costs nothing per call."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant_created", "tenant_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_column=tenant_column())
    source: str = Field(max_length=128)
    description: str | None = Field(default=None, max_length=1_024)
    prefix: str = Field(max_length=16, unique=True)
    digest: str = Field(max_length=64, unique=True)
    created_by: str = Field(max_length=256)
    created_at: datetime = Field(sa_column=tz_column(server_now=True))
    revoked_at: datetime | None = Field(default=None, sa_column=tz_column(nullable=True))
