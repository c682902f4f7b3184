"""Ingest over real HTTP against the real broker: what a SIEM pipeline sees."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from libs.common.settings import ApiCredential, KafkaSettings
from libs.embedded.tansu import TansuBroker
from services.ingest.app import create_app
from services.ingest.settings import IngestSection, IngestSettings
from tests.ingest.adapters.golden import DATA
from tests.support.corpus import read_detections
from tests.support.http_server import serve
from tests.support.kafka import header, read_until

KEY = "ingest-test-key"


def settings_for(kafka: KafkaSettings, tenant: str) -> IngestSettings:
    return IngestSettings(
        kafka=kafka,
        ingest=IngestSection(
            api_keys=[ApiCredential(key=SecretStr(KEY), tenant=tenant, name="siem")],
            max_batch_items=50,
            max_body_bytes=200_000,
            max_detection_bytes=60_000,
            consume_raw_topic=False,  # the Kafka way in has its own tests
            entity_rules={
                "suricata": [{"path": "$.http.http_user_agent", "type": "other", "role": "agent"}]
            },
        ),
    )


@pytest.fixture
async def client(kafka_settings: KafkaSettings, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(settings_for(kafka_settings, tenant))) as url,
        httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {KEY}"}) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> list[dict[str, Any]]:
    return list(read_detections(shared_data / "detections" / "sigma_regression.jsonl.gz"))[:60]


async def read_published(kafka: KafkaSettings, tenant: str, count: int) -> list[Any]:
    return await read_until(
        kafka.bootstrap_servers,
        "detections.v1",
        lambda record: header(record, "ce_tenantid") == tenant.encode(),
        count,
    )


async def test_a_detection_is_accepted_and_published(
    client: httpx.AsyncClient,
    samples: list[dict[str, Any]],
    kafka_settings: KafkaSettings,
    tenant: str,
) -> None:
    response = await client.post("/api/v1/detections", json=samples[0])
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "items": [
            {
                "index": 0,
                "detection_id": samples[0]["detection_id"],
                "status": "accepted",
                "reason": None,
            }
        ],
    }
    (record,) = await read_published(kafka_settings, tenant, 1)
    assert record.key == f"{tenant}:{samples[0]['host']['name']}".encode()
    headers = dict(record.headers)
    assert headers["ce_type"] == b"casestream.detection.v1"
    assert headers["ce_subject"] == samples[0]["detection_id"].encode()
    published = json.loads(record.value)
    assert headers["ce_id"] == published["occurrence_id"].encode()
    assert published["tenant_id"] == tenant  # from the API key, never from the body
    assert published["rule"]["id"] == samples[0]["rule"]["id"]
    assert published["raw"] == samples[0]


async def test_a_mixed_batch_reports_each_item(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    broken = copy.deepcopy(samples[1])
    del broken["rule"]["title"]
    response = await client.post(
        "/api/v1/detections", json=[samples[2], broken, "nonsense"], params={"format": "native"}
    )
    assert response.status_code == 202
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["accepted", "rejected", "rejected"]
    assert items[1]["reason"] == "invalid_detection: native: rule.title: Field required"
    assert items[1]["detection_id"] == broken["detection_id"]
    assert "expected a JSON object" in items[2]["reason"]


async def test_nothing_valid_is_a_422_naming_the_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/detections", json={"rule": {"id": "x"}})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_input"
    reason = body["details"]["items"][0]["reason"]
    assert reason.startswith("invalid_detection: no known format matched the document")


async def test_a_nul_character_is_refused_per_item_before_it_is_acknowledged(
    client: httpx.AsyncClient, samples: list[dict[str, Any]], shared_data: Path
) -> None:
    # JSON can carry U+0000; Postgres cannot store it, so alerting would dead-letter a
    # detection ingest had acknowledged. Native (fast path) and Suricata (adapter path).
    with_nul = copy.deepcopy(samples[6])
    with_nul["event"] = {"CommandLine": "cmd.exe /c \u0000 payload"}
    literal = copy.deepcopy(samples[7])
    literal["event"] = {"CommandLine": "the text \\u0000 is no NUL"}
    suricata = next(iter(read_detections(shared_data / "alerts" / "suricata_eve.jsonl.gz")))
    suricata["alert"]["signature"] += "\u0000"
    response = await client.post(
        "/api/v1/detections", json=[with_nul, literal, suricata, samples[8]]
    )

    assert response.status_code == 202
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["rejected", "accepted", "rejected", "accepted"]
    for refused in (items[0], items[2]):
        assert refused["reason"] == (
            "invalid_detection: a value holds a NUL character (\\u0000), which cannot be stored"
        )


async def test_field_and_detection_sizes_are_limits_named_per_item(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    long_title = copy.deepcopy(samples[3])
    long_title["rule"]["title"] = "x" * 1_025
    huge = copy.deepcopy(samples[4])
    huge["event"] = {"CommandLine": "A" * 80_000}  # within the body limit, not the message's
    response = await client.post("/api/v1/detections", json=[long_title, huge, samples[5]])
    assert response.status_code == 202
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["rejected", "rejected", "accepted"]
    assert items[0]["reason"] == (
        "invalid_detection: native: rule.title: String should have at most 1024 characters"
    )
    assert items[1]["reason"].startswith("detection_too_large: ")
    assert "the limit is 60000 bytes (max_detection_bytes)" in items[1]["reason"]
    alone = await client.post("/api/v1/detections", json=long_title)
    assert alone.status_code == 422
    assert alone.json()["code"] == "invalid_input"


async def test_foreign_formats_clip_long_fields_instead_of_losing_the_alert(
    client: httpx.AsyncClient,
) -> None:
    # A SIEM's alert is not the sender's to fix: past our field limits it is clipped.
    alert = json.loads((DATA / "wazuh" / "sshd_bruteforce_5712.json").read_text())
    alert["rule"]["description"] = "d" * 5_000
    response = await client.post("/api/v1/detections", json=alert)
    assert response.status_code == 202, response.text


async def test_an_unknown_declared_format_is_refused_up_front(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/detections", json={}, headers={"x-casestream-format": "qradar"}
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("unknown format 'qradar'; known: ")


async def test_other_formats_are_detected_and_normalized(
    client: httpx.AsyncClient, shared_data: Path, kafka_settings: KafkaSettings, tenant: str
) -> None:
    alert = next(iter(read_detections(shared_data / "alerts" / "suricata_eve.jsonl.gz")))
    response = await client.post("/api/v1/detections", json=alert)
    assert response.status_code == 202
    (record,) = await read_published(kafka_settings, tenant, 1)
    published = json.loads(record.value)
    assert (published["format"], published["source"]) == ("suricata", "suricata")
    assert published["rule"]["name"] == alert["alert"]["signature"]


async def test_configured_entity_rules_add_entities(
    client: httpx.AsyncClient, shared_data: Path, kafka_settings: KafkaSettings, tenant: str
) -> None:
    alerts = read_detections(shared_data / "alerts" / "suricata_eve.jsonl.gz")
    alert = next(a for a in alerts if a.get("http", {}).get("http_user_agent"))
    assert (await client.post("/api/v1/detections", json=alert)).status_code == 202
    (record,) = await read_published(kafka_settings, tenant, 1)
    entities = json.loads(record.value)["entities"]
    assert {"type": "other", "value": alert["http"]["http_user_agent"], "role": "agent"} in entities


async def test_missing_id_gets_a_stable_fingerprint(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    anonymous = {k: v for k, v in samples[3].items() if k != "detection_id"}
    first = (await client.post("/api/v1/detections", json=anonymous)).json()
    second = (await client.post("/api/v1/detections", json=anonymous)).json()
    assert first["items"][0]["detection_id"].startswith("fp-")
    assert first["items"][0]["detection_id"] == second["items"][0]["detection_id"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {}, 422, "invalid_input"),
        (b'{"n": ' + b"9" * 5_000 + b"}", {}, 422, "invalid_input"),  # a huge integer
        (b"[]", {}, 422, "invalid_input"),
        (json.dumps([{}] * 51).encode(), {}, 413, "payload_too_large"),
        (b"[" + b" " * 200_001 + b"]", {}, 413, "payload_too_large"),
        (b"{}", {"content-type": "text/plain"}, 415, "unsupported_media_type"),
    ],
    ids=["bad-json", "huge-integer", "empty", "too-many-items", "too-many-bytes", "wrong-type"],
)
async def test_bad_requests_are_named(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = await client.post(
        "/api/v1/detections",
        content=body,
        headers={"content-type": "application/json", **headers},
    )
    assert response.status_code == status
    assert response.json()["code"] == code


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc"])
async def test_requests_without_a_valid_key_are_refused(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    client.headers.pop("authorization")
    response = await client.post("/api/v1/detections", json={}, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_broker_down_answers_503_and_accepts_nothing(
    run_dir: Path, samples: list[dict[str, Any]], tenant: str
) -> None:
    broker = TansuBroker(run_dir / "tansu-503")
    broker.start()
    settings = settings_for(KafkaSettings(bootstrap_servers=broker.bootstrap_servers), tenant)
    async with serve(create_app(settings)) as url:
        broker.stop()
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.post(
                "/api/v1/detections", json=samples[:3], headers={"authorization": f"Bearer {KEY}"}
            )
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "broker_unavailable"
    assert body["details"]["accepted"] == 0
    assert all(i["reason"].startswith("broker_unavailable") for i in body["details"]["items"])


async def test_ndjson_reports_each_line(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    body = "\n".join([json.dumps(samples[4]), "{truncated", "", json.dumps(samples[5])]) + "\n"
    response = await client.post(
        "/api/v1/detections", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 202
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["accepted", "rejected", "accepted"]
    assert items[1]["reason"].startswith("invalid_json: line 2:")


async def test_gzip_bodies_are_accepted(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    body = gzip.compress(json.dumps(samples[6:9]).encode())
    response = await client.post(
        "/api/v1/detections",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 202
    assert response.json()["accepted"] == 3


@pytest.mark.parametrize(
    ("body", "encoding", "status", "message"),
    [
        (gzip.compress(b"[" + b" " * 300_000 + b"]"), "gzip", 413, "decompressed"),
        (b"\x1f\x8b not gzip at all", "gzip", 422, "not valid gzip"),
        (b"{}", "br", 415, "Content-Encoding"),
    ],
    ids=["gzip-bomb", "corrupt-gzip", "unknown-encoding"],
)
async def test_bad_encodings_are_named(
    client: httpx.AsyncClient, body: bytes, encoding: str, status: int, message: str
) -> None:
    response = await client.post(
        "/api/v1/detections",
        content=body,
        headers={"content-type": "application/json", "content-encoding": encoding},
    )
    assert response.status_code == status
    assert message in response.json()["message"]


async def test_json_nested_past_the_parser_is_rejected_not_a_server_error(
    client: httpx.AsyncClient, samples: list[dict[str, Any]]
) -> None:
    deep = b"[" * 20_000 + b"]" * 20_000
    # A JSON body is read whole: like any body Python cannot read, it is refused whole.
    for body in (deep, b"[" + json.dumps(samples[2]).encode() + b"," + deep + b"]"):
        refused = await client.post(
            "/api/v1/detections", content=body, headers={"content-type": "application/json"}
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_input")
        assert "nested too deeply" in refused.json()["message"]
    # NDJSON lines stand alone: only the deep line is refused.
    response = await client.post(
        "/api/v1/detections",
        content=json.dumps(samples[3]).encode() + b"\n" + deep + b"\n",
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["accepted", "rejected"]
    assert items[1]["reason"] == "invalid_json: line 2: nested too deeply"
