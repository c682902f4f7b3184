"""The registry: sniffing each sample to its format, and naming formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.adapters import ADAPTERS, AdapterError, adapter_named, detect_adapter
from tests.ingest.adapters.golden import DATA, load, shared_records

SAMPLES = sorted(path for path in DATA.glob("*/*.json") if not path.name.endswith(".expected.json"))


def test_every_format_has_an_adapter_and_a_unique_name() -> None:
    names = [adapter.name for adapter in ADAPTERS]
    assert sorted(names) == sorted(
        ["native", "ocsf", "ecs", "thehive", "limacharlie", "wazuh", "splunk", "suricata", "zeek"]
    )


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_each_sample_is_recognised_as_its_format(path: Path) -> None:
    assert detect_adapter(load(path.parent.name, path.name)).name == path.parent.name


@pytest.mark.parametrize(
    ("relative", "name"),
    [
        ("alerts/suricata_eve.jsonl.gz", "suricata"),
        ("alerts/zeek_notice.jsonl.gz", "zeek"),
        ("detections/sigma_regression.jsonl.gz", "native"),
    ],
)
def test_shared_records_are_recognised(relative: str, name: str) -> None:
    assert {detect_adapter(record).name for record in shared_records(relative)} == {name}


def test_an_unknown_document_names_why() -> None:
    with pytest.raises(
        AdapterError, match=r"^no known format matched the document \(tried: ocsf, "
    ):
        detect_adapter({"hello": "world"})


def test_an_unknown_format_name_lists_the_known_ones() -> None:
    with pytest.raises(AdapterError) as caught:
        adapter_named("cef")
    assert str(caught.value) == (
        "unknown format 'cef'; known: ecs, limacharlie, native, ocsf, splunk, suricata, "
        "thehive, wazuh, zeek"
    )
