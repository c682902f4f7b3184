"""The alert topics' outbox rows: `alerts.v2` for every stored alert, `alerts.v1` too for
one with a case, each exactly the message its contract model writes, with CloudEvents
headers of its own, in batch rows per tenant and topic (libs/common/outbox_batches.py,
expanded here as the relay expands them). Pure logic: no database or broker involved."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import TypeAdapter

from libs.common.casestore.batch import NewAlert
from libs.common.casestore.events import alert_outbox_rows
from libs.common.contracts.alerts import (
    AlertGroupingV2,
    AlertV1,
    AlertV2,
    GroupingDecision,
)
from libs.common.contracts.detections import RuleRefV1, Severity
from libs.common.db.jsonb import SerializedJSON
from libs.common.outbox_batches import MESSAGES_PER_ROW, OutgoingMessage, row_messages

SOURCE = "casestream/alerting-test"
AT = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
CONTINUED = uuid.uuid4()


def new_alert(tenant: str, **columns: Any) -> NewAlert:
    return NewAlert(
        id=uuid.uuid4(),
        tenant_id=tenant,
        severity=Severity.HIGH,
        effective_time=AT,
        columns={
            "detection_id": "d-1",
            "title": "Encoded PowerShell on ws-017 \u00e9\u4e2d \u2028",
            "rule_id": "r-1",
            "rule_name": "Encoded PowerShell",
            "host": "ws-017",
            "source": "sigma",
            "group_key": "host:ws-017",
            "event_time": AT,
            "ingested_at": AT,
            "grouping": {
                "decision": "opened_case",
                "reason": "case_full",
                "strategy": "chain",
                "strategy_fallback": True,
                "policy_version": 3,
                "continues_case_id": str(CONTINUED),
                "chain": {"shared_event_ids": ["e1", "e2"]},
                "key": "ignored by the topics",
            },
            **columns,
        },
    )


def messages(rows: list[dict[str, Any]]) -> list[OutgoingMessage]:
    """What the relay publishes of `rows`, in order."""
    published = []
    for row in rows:
        assert isinstance(row["payload"], SerializedJSON)  # stored as is, not encoded again
        published += row_messages(
            row["topic"], row["key"], row["headers"], row["payload"], row.get("batch_messages")
        )
    return published


def payload(message: OutgoingMessage) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(message.payload)
    return loaded


def test_every_alerts_v1_field_is_an_alerts_v2_field_of_the_same_type() -> None:
    # v1 messages are v2's shared members, built once for both: only while this holds.
    for name, field in AlertV1.model_fields.items():
        if name not in ("schema_version", "case_id"):
            assert AlertV2.model_fields[name].annotation == field.annotation, name
    assert AlertV2.model_fields["case_id"].annotation == uuid.UUID | None


def test_an_alert_with_a_case_is_on_both_topics_as_the_models_write_it() -> None:
    case_id = uuid.uuid4()
    alert = new_alert("acme")
    v1_row, v2_row = messages(alert_outbox_rows(SOURCE, [(case_id, [alert])]))
    v1, v2 = payload(v1_row), payload(v2_row)

    expected = AlertV2(
        alert_id=alert.id,
        tenant_id="acme",
        detection_id="d-1",
        case_id=case_id,
        title=alert.columns["title"],
        severity=Severity.HIGH,
        rule=RuleRefV1(id="r-1", name="Encoded PowerShell", source="sigma"),
        source="sigma",
        host="ws-017",
        group_key="host:ws-017",
        event_time=AT,
        effective_time=AT,
        ingested_at=AT,
        grouping=AlertGroupingV2(
            decision=GroupingDecision.OPENED_CASE,
            reason="case_full",
            strategy="chain",
            strategy_fallback=True,
            policy_version=3,
            continues_case_id=CONTINUED,
            shared_event_ids=["e1", "e2"],
        ),
        created_at=datetime.fromisoformat(v2["created_at"]),
    )
    assert v2 == expected.model_dump(mode="json")
    as_v1 = expected.model_dump(include=set(AlertV1.model_fields) - {"schema_version"})
    assert v1 == AlertV1.model_validate(as_v1).model_dump(mode="json")
    assert v1["created_at"] == v2["created_at"]

    assert (v1_row.topic, v2_row.topic) == ("alerts.v1", "alerts.v2")
    assert v1_row.key == v2_row.key == f"acme:{alert.id}"
    for row, event_type in ((v1_row, "casestream.alert.v1"), (v2_row, "casestream.alert.v2")):
        headers = row.headers
        assert uuid.UUID(headers["ce_id"]).version == 4
        assert (headers["ce_type"], headers["ce_subject"]) == (event_type, str(alert.id))
        assert (headers["ce_source"], headers["ce_tenantid"]) == (SOURCE, "acme")
        assert headers["content-type"] == "application/json"
        assert headers["ce_specversion"] == "1.0"
        assert datetime.fromisoformat(headers["ce_time"]).tzinfo is not None
    assert v1_row.headers["ce_id"] != v2_row.headers["ce_id"]


def test_an_alert_without_a_case_is_on_v2_only_and_each_message_has_its_own_id() -> None:
    alerts = [
        new_alert("acme", grouping={"decision": "no_case", "reason": "below_min_severity"}),
        new_alert("acme", host=None, event_time=None, source=None, grouping=None),
        new_alert("other"),
    ]
    rows = messages(alert_outbox_rows(SOURCE, [(None, alerts)]))
    assert [row.topic for row in rows] == ["alerts.v2"] * 3
    models = [AlertV2.model_validate(payload(row)) for row in rows]
    assert [m.alert_id for m in models] == [a.id for a in alerts]
    assert all(m.case_id is None for m in models)
    assert models[0].grouping is not None
    assert models[0].grouping.decision is GroupingDecision.NO_CASE
    assert (models[1].host, models[1].event_time, models[1].grouping) == (None, None, None)
    assert models[1].source == SOURCE  # the writer, when the detection named none
    assert [row.headers["ce_tenantid"] for row in rows] == ["acme", "acme", "other"]
    assert len({row.headers["ce_id"] for row in rows}) == 3


def as_pydantic_wrote_it(message: AlertV2) -> str:
    """The alerts.v2 text the models wrote before msgspec encoded it: the members v1
    shares, then v2's own."""
    shared = set(AlertV1.model_fields) - {"schema_version"}
    v2_only = set(AlertV2.model_fields) - shared - {"schema_version"}
    head = message.model_dump_json(include=shared)[1:-1]
    return '{"schema_version":2,' + head + "," + message.model_dump_json(include=v2_only)[1:]


@pytest.mark.parametrize(
    "at",
    [
        AT,
        AT.replace(microsecond=0),
        AT.astimezone(timezone(timedelta(hours=5, minutes=30))),
        # As pydantic parses a detection's time: its own tzinfo class.
        TypeAdapter(datetime).validate_json('"2026-11-22T10:00:00.5-03:00"'),
    ],
)
@pytest.mark.parametrize("with_case", [True, False])
def test_messages_are_byte_for_byte_what_the_models_write(at: datetime, with_case: bool) -> None:
    case_id = uuid.uuid4() if with_case else None
    alerts = [
        new_alert("acme", event_time=at, ingested_at=at),
        new_alert("acme", host=None, event_time=None, source=None, grouping=None),
        new_alert("acme", grouping={"decision": "joined_case", "reason": "joined_open_case"}),
    ]
    alerts = [NewAlert(a.id, a.tenant_id, a.severity, at, a.columns) for a in alerts]
    rows = messages(alert_outbox_rows(SOURCE, [(case_id, alerts)]))
    v2_rows = [row for row in rows if row.topic == "alerts.v2"]
    for row in v2_rows:
        assert row.payload == as_pydantic_wrote_it(AlertV2.model_validate_json(row.payload))
    for row in rows:
        if row.topic == "alerts.v1":
            assert row.payload == AlertV1.model_validate_json(row.payload).model_dump_json()
    assert len(rows) == len(alerts) * (2 if with_case else 1)


def test_a_large_batch_is_cut_into_rows_of_one_tenant_and_topic_each() -> None:
    case_id = uuid.uuid4()
    count = MESSAGES_PER_ROW + 3
    acme = [new_alert("acme", detection_id=f"d-{n}") for n in range(count)]
    other = [new_alert("other")]
    rows = alert_outbox_rows(SOURCE, [(case_id, acme[:10]), (None, other), (case_id, acme[10:])])

    assert [(r["tenant_id"], r["topic"], r["batch_messages"]) for r in rows] == [
        ("acme", "alerts.v1", MESSAGES_PER_ROW),
        ("acme", "alerts.v1", 3),
        ("acme", "alerts.v2", MESSAGES_PER_ROW),
        ("acme", "alerts.v2", 3),
        ("other", "alerts.v2", 1),
    ]
    published = messages(rows)
    v2 = [m for m in published if m.topic == "alerts.v2"]
    assert [m.key for m in v2] == [f"acme:{a.id}" for a in acme] + [f"other:{other[0].id}"]
    assert [json.loads(m.payload)["detection_id"] for m in v2[:count]] == [
        f"d-{n}" for n in range(count)
    ]
    assert len({m.headers["ce_id"] for m in published}) == len(published) == 2 * count + 1
    assert all(r["key"] == "" for r in rows)  # a batch row's messages carry their keys
    assert len({r["event_id"] for r in rows}) == len(rows)


def test_publishing_v1_off_leaves_only_v2_rows() -> None:
    rows = alert_outbox_rows(SOURCE, [(uuid.uuid4(), [new_alert("acme")])], publish_v1=False)
    assert [(r["topic"], r["batch_messages"]) for r in rows] == [("alerts.v2", 1)]
