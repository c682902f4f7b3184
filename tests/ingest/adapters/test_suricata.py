"""Suricata EVE alerts: real records of ../shared/data/alerts (read at test time)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tests.ingest.adapters.golden import (
    assert_rejected,
    check_golden_records,
    mutated,
    normalize,
    shared_records,
)

# Inbound scan, outbound HTTP, severity 3, TLS, a honeypot record whose timestamp has
# no offset (so it falls back to ingest time), SMTP with addresses.
CHOSEN = (0, 1, 11, 32, 136, 293)


@cache
def records() -> list[dict[str, Any]]:
    return shared_records("alerts/suricata_eve.jsonl.gz")


def test_golden() -> None:
    chosen = {str(index): records()[index] for index in CHOSEN}
    check_golden_records("suricata", chosen, "suricata_eve.expected.json")


def test_every_shared_record_is_accepted_and_grouped_by_a_host() -> None:
    detections = [normalize("suricata", record) for record in records()]
    assert len(detections) == 548
    assert all(detection.host for detection in detections)
    assert len({detection.detection_id for detection in detections}) == 548


def test_outbound_traffic_groups_on_the_internal_source() -> None:
    outbound = records()[1]
    assert (outbound["src_ip"], normalize("suricata", outbound).host) == (
        "192.168.0.54",
        "192.168.0.54",
    )


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("alert.signature", None, "suricata: alert.signature missing"),
        ("alert.signature_id", [], "suricata: alert.signature_id missing"),
        (
            "event_type",
            "flow",
            "suricata: not an alert event (event_type 'alert' with an alert object)",
        ),
        (
            "alert",
            "ET SCAN",
            "suricata: not an alert event (event_type 'alert' with an alert object)",
        ),
    ],
)
def test_malformed_is_rejected_with_its_reason(path: str, value: Any, reason: str) -> None:
    assert_rejected("suricata", mutated(records()[0], path, value), reason)
