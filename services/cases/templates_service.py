"""Rules of case templates: what a template may hold, and how it shapes a case opened
with it (the opener's own values win over the template's; its tasks are added)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.casestore import custom_field_repository
from libs.common.casestore.custom_fields import checked_values
from libs.common.casestore.fields import normalize_tags
from libs.common.casestore.tasks import NewTask
from libs.common.errors import Conflict, InvalidInput, NotFound
from libs.common.http import Principal
from libs.common.logging import get_logger
from services.cases import templates_repository
from services.cases.schemas import MAX_TITLE_LENGTH, CaseIn
from services.cases.templates_schemas import MAX_TEMPLATES, CaseTemplate, CaseTemplateSpec

log = get_logger(__name__)


async def list_templates(session: AsyncSession, caller: Principal) -> list[CaseTemplate]:
    return await templates_repository.templates(session, caller.tenant_id)


async def read_template(session: AsyncSession, caller: Principal, name: str) -> CaseTemplate:
    found = await templates_repository.template(session, caller.tenant_id, name)
    if found is None:
        raise NotFound("case template not found", template=name)
    return found


async def put_template(
    session: AsyncSession, caller: Principal, name: str, spec: CaseTemplateSpec
) -> tuple[CaseTemplate, bool]:
    """Create or replace a template; its default values are checked against the custom
    field definitions now (and again when a case is opened with it)."""
    count = await templates_repository.count_and_lock(session, caller.tenant_id)
    created = await templates_repository.template(session, caller.tenant_id, name) is None
    if created and count >= MAX_TEMPLATES:
        raise Conflict(f"at most {MAX_TEMPLATES} case templates per tenant", limit=MAX_TEMPLATES)
    definitions = await custom_field_repository.definitions(session, caller.tenant_id)
    values = checked_values(definitions, {}, spec.custom_fields, opening=False)
    template = CaseTemplate(
        name=name,
        title_prefix=spec.title_prefix,
        tags=normalize_tags(spec.tags),
        custom_fields=values,
        tasks=spec.tasks,
    )
    stored = await templates_repository.upsert_template(
        session, caller.tenant_id, template.model_dump(mode="json"), caller.name
    )
    log.info("case_template.defined", tenant_id=caller.tenant_id, template=name, created=created)
    return stored, created


async def delete_template(session: AsyncSession, caller: Principal, name: str) -> None:
    if not await templates_repository.delete_template(session, caller.tenant_id, name):
        raise NotFound("case template not found", template=name)
    log.info("case_template.deleted", tenant_id=caller.tenant_id, template=name)


async def with_template(
    session: AsyncSession, caller: Principal, body: CaseIn
) -> tuple[CaseIn, tuple[NewTask, ...]]:
    """`body` with its template applied: the prefix before the title, the template's tags
    before the opener's, and its custom field values unless the opener gave the key (a
    null given by the opener leaves the field empty); and the tasks the case opens with."""
    if body.template is None:
        return body, ()
    template = await templates_repository.template(session, caller.tenant_id, body.template)
    if template is None:
        raise InvalidInput("no such case template", template=body.template)
    title = template.title_prefix + body.title
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidInput(
            f"title with the template's prefix is longer than {MAX_TITLE_LENGTH} characters",
            limit=MAX_TITLE_LENGTH,
        )
    applied = body.model_copy(
        update={
            "title": title,
            "tags": [*template.tags, *body.tags],
            "custom_fields": {**template.custom_fields, **body.custom_fields},
        }
    )
    tasks = tuple(
        NewTask(
            title=task.title,
            description=task.description,
            assignee=task.assignee,
            due_after=None
            if task.due_in_minutes is None
            else timedelta(minutes=task.due_in_minutes),
        )
        for task in template.tasks
    )
    return applied, tasks
