"""Rules of the tenant case policy: optimistic versioning, and what a reader is shown."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import repository
from libs.common.casestore.lifecycle import WORKFLOWS
from libs.common.casestore.policy import CasePolicy, VersionedPolicy, load_policy
from libs.common.errors import Conflict
from libs.common.http import Principal
from libs.common.logging import get_logger
from services.cases.schemas import CasePolicyIn, CasePolicyOut, WorkflowOut

log = get_logger(__name__)


def render(versioned: VersionedPolicy) -> CasePolicyOut:
    workflow = WORKFLOWS[versioned.policy.workflow]
    return CasePolicyOut(
        version=versioned.version,
        **versioned.policy.model_dump(),
        workflow_definition=WorkflowOut(
            initial=workflow.initial,
            open_statuses=sorted(workflow.open_statuses),
            transitions={s: workflow.allowed(s) for s in sorted(workflow.transitions)},
            requires={s: list(fields) for s, fields in workflow.requires.items()},
        ),
    )


async def read_policy(session: AsyncSession, caller: Principal) -> CasePolicyOut:
    return render(await load_policy(session, caller.tenant_id))


async def replace_policy(
    session: AsyncSession, caller: Principal, body: CasePolicyIn
) -> CasePolicyOut:
    current = await load_policy(session, caller.tenant_id)
    if body.version != current.version:
        raise Conflict(
            "the case policy changed since it was read",
            expected_version=body.version,
            current_version=current.version,
        )
    policy = CasePolicy.model_validate(body.model_dump(exclude={"version"}))
    stored = await repository.insert_policy(
        session, caller.tenant_id, current.version + 1, policy.model_dump(mode="json"), caller.name
    )
    if stored is None:  # a concurrent writer took this version between our read and insert
        raise Conflict("the case policy changed since it was read", expected_version=body.version)
    log.info(
        "case_policy.replaced",
        tenant_id=caller.tenant_id,
        version=stored.version,
        actor=caller.name,
    )
    return render(VersionedPolicy(version=stored.version, policy=policy))
