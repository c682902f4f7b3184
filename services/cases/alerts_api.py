"""HTTP transport of the alert search: GET /api/v1/alerts (a page), /alerts/count and
/alerts/{id}. Analyst keys; the key decides the tenant. The rules are in
alerts_service.py, the queries in the configured alert store."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from libs.common.alertstore.model import ENTITY_VALUE_LIMIT, AlertQuery
from libs.common.contracts.detections import EntityType
from libs.common.http import app_state
from services.cases.alerts_schemas import AlertCountOut, AlertOut, AlertPageOut
from services.cases.alerts_service import AlertSearchService
from services.cases.api import Caller

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


Service = Annotated[AlertSearchService, Depends(app_state("alert_search_service"))]
Payload = Annotated[
    bool, Query(description="include each alert's detection as received (the raw payload)")
]


async def alert_query(
    start: Annotated[
        datetime | None,
        Query(alias="from", description="inclusive, on the alert's event time; no zone: UTC"),
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="exclusive")] = None,
    host: Annotated[
        str | None,
        Query(min_length=1, max_length=1_024, description="the alert's host (any case)"),
    ] = None,
    entity: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2_048,
            description=f"an entity value the alert names, its host included (any case; "
            f"compared on its first {ENTITY_VALUE_LIMIT} characters)",
        ),
    ] = None,
    entity_type: Annotated[EntityType | None, Query(description="narrows entity")] = None,
    rule: Annotated[str | None, Query(min_length=1, max_length=256, description="rule id")] = None,
) -> AlertQuery:
    return AlertQuery(
        start=start, end=end, host=host, entity=entity, entity_type=entity_type, rule_id=rule
    )


Filters = Annotated[AlertQuery, Depends(alert_query)]


@router.get(
    "", response_model=AlertPageOut, summary="Search alerts, newest first, a page at a time"
)
async def search_alerts(
    caller: Caller,
    service: Service,
    filters: Filters,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    payload: Payload = False,
) -> AlertPageOut:
    return await service.search(caller, filters, cursor, limit, payload)


@router.get("/count", response_model=AlertCountOut, summary="How many alerts match the filters")
async def count_alerts(caller: Caller, service: Service, filters: Filters) -> AlertCountOut:
    return await service.count(caller, filters)


@router.get("/{alert_id}", response_model=AlertOut, summary="One alert")
async def get_alert(
    alert_id: uuid.UUID, caller: Caller, service: Service, payload: Payload = False
) -> AlertOut:
    return await service.get(caller, alert_id, payload)
