"""Cases opened through the API whose columns a test then sets to exact values in SQL:
reports are arithmetic over timestamps no test could wait for."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from libs.common.db.engine import SessionFactory, transaction
from libs.common.db.models import Case

CASES = Case.__table__  # type: ignore[attr-defined]


async def open_case(
    client: httpx.AsyncClient,
    *,
    severity: str = "medium",
    assignee: str | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    body: dict[str, Any] = {"title": "report case", "severity": severity}
    if assignee is not None:
        body["assignee"] = assignee
    response = await client.post("/api/v1/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    case_id: str = response.json()["id"]
    return case_id


async def set_columns(sessions: SessionFactory, case_id: str, **values: Any) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(CASES).where(CASES.c.id == case_id).values(**values))
