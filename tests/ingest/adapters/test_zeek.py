"""Zeek notices: real records of ../shared/data/alerts (CC-BY-SA-4.0, read at test time,
never copied into the repository)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from libs.common.contracts.detections import Severity
from tests.ingest.adapters.golden import (
    assert_rejected,
    check_golden_records,
    mutated,
    normalize,
    shared_records,
)

# One record for each of the three messages in the file.
CHOSEN = (0, 2, 153)


@cache
def records() -> list[dict[str, Any]]:
    return shared_records("alerts/zeek_notice.jsonl.gz")


def test_golden() -> None:
    chosen = {str(index): records()[index] for index in CHOSEN}
    check_golden_records("zeek", chosen, "zeek_notice.expected.json")


def test_every_shared_record_is_accepted() -> None:
    detections = [normalize("zeek", record) for record in records()]
    assert len(detections) == 207
    assert all(d.host and d.rule.id == "SSL::Invalid_Server_Cert" for d in detections)


def test_epoch_seconds_and_nested_connection_ids_are_read() -> None:
    record = dict(records()[0])
    record["ts"] = 1521911720.629574
    record["id"] = {"orig_h": record.pop("id.orig_h"), "resp_h": record.pop("id.resp_h")}
    del record["src"], record["dst"]
    detection = normalize("zeek", record)
    assert detection.event_time == normalize("zeek", records()[0]).event_time
    assert detection.host == "10.47.3.200"


def test_an_alarm_raises_a_low_notice_to_medium() -> None:
    alarm = mutated(records()[0], "actions", ["Notice::ACTION_LOG", "Notice::ACTION_ALARM"])
    assert normalize("zeek", alarm).severity is Severity.MEDIUM


@pytest.mark.parametrize(
    ("value", "reason"), [(None, "zeek: note missing"), ("", "zeek: note missing")]
)
def test_malformed_is_rejected_with_its_reason(value: Any, reason: str) -> None:
    assert_rejected("zeek", mutated(records()[0], "note", value), reason)
