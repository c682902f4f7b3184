"""Postgres tables. Every row carries its tenant; SQL lives in the repositories.

One module per area; every table is importable from here, and importing this package
registers them all on `metadata` (Alembic and the drift test read it)."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

# Deterministic constraint names keep Alembic diffs and migrations stable.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


# The naming convention above must be set before any table is declared.
from libs.common.db.models.alerting import (  # noqa: E402
    Alert,
    AlertMatchedEvent,
    CorrelationContribution,
    CorrelationState,
    DetectionOccurrence,
    GroupingSlot,
)
from libs.common.db.models.case_work import (  # noqa: E402
    CaseAttachment,
    CaseBulkJob,
    CaseBulkJobItem,
    CaseMerge,
    CaseNote,
    CaseTask,
)
from libs.common.db.models.cases import (  # noqa: E402
    MAX_ENTITY_VALUE,
    Case,
    CaseEntity,
    CaseEvent,
    CaseNumberCounter,
)
from libs.common.db.models.counts import CaseCountDelta  # noqa: E402
from libs.common.db.models.delivery import (  # noqa: E402
    ApiKey,
    OutboxMessage,
    PlaybookRun,
    WebhookDelivery,
)
from libs.common.db.models.retention import CasePurge, PurgedAttachmentObject  # noqa: E402
from libs.common.db.models.tenant_settings import (  # noqa: E402
    AlertingPolicyVersion,
    CaseTemplate,
    CustomFieldDefinition,
    EntityVerdict,
    TenantCasePolicy,
)

__all__ = [
    "MAX_ENTITY_VALUE",
    "Alert",
    "AlertMatchedEvent",
    "AlertingPolicyVersion",
    "ApiKey",
    "Case",
    "CaseAttachment",
    "CaseBulkJob",
    "CaseBulkJobItem",
    "CaseCountDelta",
    "CaseEntity",
    "CaseEvent",
    "CaseMerge",
    "CaseNote",
    "CaseNumberCounter",
    "CasePurge",
    "CaseTask",
    "CaseTemplate",
    "CorrelationContribution",
    "CorrelationState",
    "CustomFieldDefinition",
    "DetectionOccurrence",
    "EntityVerdict",
    "GroupingSlot",
    "OutboxMessage",
    "PlaybookRun",
    "PurgedAttachmentObject",
    "TenantCasePolicy",
    "WebhookDelivery",
    "metadata",
]
