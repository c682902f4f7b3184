"""A tenant's case policy: which workflow its new cases follow (and, with it, the SLA
targets). Stored as versioned documents, one row per version, so every change is kept
with who made it; the newest version is the one in force."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.lifecycle import DEFAULT_WORKFLOW, WorkflowName


class CasePolicy(BaseModel):
    """The policy document. Every field has a default, so documents stored before a field
    existed still read, and a tenant that never set anything gets the defaults."""

    model_config = ConfigDict(extra="forbid")

    workflow: WorkflowName = DEFAULT_WORKFLOW


class VersionedPolicy(BaseModel):
    version: int = Field(ge=0, description="0: the defaults, never set by this tenant")
    policy: CasePolicy


async def load_policy(session: AsyncSession, tenant_id: str) -> VersionedPolicy:
    row = await repository.latest_policy(session, tenant_id)
    if row is None:
        return VersionedPolicy(version=0, policy=CasePolicy())
    return VersionedPolicy(version=row.version, policy=CasePolicy.model_validate(row.document))
