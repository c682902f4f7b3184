"""Alert topics on the real broker: every alert is on alerts.v2 (case or none, with its
grouping decision); alerts with a case are still on alerts.v1 for its subscribers."""

from __future__ import annotations

import json
from collections.abc import Callable

from libs.common.casestore.store import CaseStore
from libs.common.contracts.alerts import AlertV1, AlertV2, GroupingDecision
from libs.common.contracts.detections import Severity
from libs.common.db.engine import SessionFactory, transaction
from libs.common.policies.alerting import AlertingPolicy, CaseCreation, GroupingPolicy, Strategy
from libs.common.settings import KafkaSettings
from services.alerting.service import GroupingService
from tests.support.detections import detection
from tests.support.kafka import Record, header, read_settled
from tests.support.outbox import drain_outbox

# Below high, a detection may not open a case: kept as an alert without one.
SERVICE = GroupingService(
    CaseStore("casestream/alerting-test"),
    AlertingPolicy(
        case_creation=CaseCreation(min_severity=Severity.HIGH),
        grouping=GroupingPolicy(strategy=Strategy.HOST_RULE),
    ),
)


def of_tenant(tenant: str) -> Callable[[Record], bool]:
    def wanted(record: Record) -> bool:
        return header(record, "ce_tenantid") == tenant.encode()

    return wanted


async def test_an_uncased_alert_is_on_v2_and_a_cased_one_on_both(
    sessions: SessionFactory, kafka_settings: KafkaSettings, tenant: str
) -> None:
    batch = [
        detection(tenant, "noise", host="h1", severity=Severity.LOW),
        detection(tenant, "attack", host="h2", severity=Severity.HIGH),
    ]
    async with transaction(sessions) as session:
        await SERVICE.process(session, batch)
    await drain_outbox(sessions, kafka_settings)

    # Three messages in all; the uncased alert never reaches v1, whose messages name a case.
    published = await read_settled(
        kafka_settings.bootstrap_servers, ["alerts.v1", "alerts.v2"], of_tenant(tenant), count=3
    )
    v1 = [r for r in published if r.topic == "alerts.v1"]
    v2 = [r for r in published if r.topic == "alerts.v2"]
    assert (len(v1), len(v2)) == (1, 2)
    assert {header(r, "ce_type") for r in v2} == {b"casestream.alert.v2"}
    by_detection = {m.detection_id: m for m in (AlertV2.model_validate_json(r.value) for r in v2)}
    noise, attack = by_detection["noise"], by_detection["attack"]
    assert noise.case_id is None
    assert noise.grouping is not None
    assert (noise.grouping.decision, noise.grouping.reason) == (
        GroupingDecision.NO_CASE,
        "below_min_severity",
    )
    assert attack.case_id is not None
    assert attack.grouping is not None
    assert (attack.grouping.decision, attack.grouping.strategy) == (
        GroupingDecision.OPENED_CASE,
        "host+rule",
    )
    assert {r.key.decode() for r in v2} == {f"{tenant}:{m.alert_id}" for m in (noise, attack)}

    cased = AlertV1.model_validate(json.loads(v1[0].value))
    assert (cased.detection_id, cased.alert_id, cased.case_id) == (
        "attack",
        attack.alert_id,
        attack.case_id,
    )
