"""A new case's title and Markdown description, written from the alerts that open it."""

from __future__ import annotations

from libs.common.contracts.detections import DetectionV1, EntityType, EntityV1, MitreV1
from services.alerting.case_text import case_description, case_title
from tests.support.detections import detection


def fired(name: str, rule: str, minutes: float, *entities: tuple[EntityType, str]) -> DetectionV1:
    return detection("t", name, host="ws-17", rule=rule, minutes=minutes).model_copy(
        update={
            "entities": [EntityV1(type=kind, value=value) for kind, value in entities],
            "mitre": MitreV1(tactics=["credential-access"], techniques=["T1003.001"]),
        }
    )


SEGMENT = [
    fired("a", "lsass", 0, (EntityType.USER, "alice"), (EntityType.IP, "10.0.0.5")),
    fired("b", "lsass", 5, (EntityType.USER, "alice")),
    fired("c", "mimikatz", 9, (EntityType.USER, "bob"), (EntityType.HOST, "ws-17")),
]


def test_the_title_names_the_first_rule_the_host_and_how_many_more() -> None:
    assert case_title(SEGMENT) == "Rule lsass on ws-17 (+1 more rule)"
    assert case_title(SEGMENT[:1], continued=True) == "Rule lsass on ws-17 (continued)"


def test_the_description_lists_what_an_analyst_needs_first() -> None:
    text = case_description(SEGMENT)
    assert text.startswith("**3 alerts** (2026-03-01T12:00:00+00:00 to 2026-03-01T12:09:00+00:00).")
    assert "- Rule lsass (`lsass`): 2\n- Rule mimikatz (`mimikatz`): 1" in text
    assert "- **Hosts:** `ws-17`" in text  # once, though also listed as an entity
    assert "- **Users:** `alice`, `bob`" in text
    assert "- **IP addresses:** `10.0.0.5`" in text
    assert "[T1003.001](https://attack.mitre.org/techniques/T1003/001/)" in text
    assert "### Investigation hints\n- **credential-access:** Assume the credentials" in text
    assert "### Correlation" not in text


def test_long_lists_are_cut_and_say_how_much_is_left_out() -> None:
    many = [fired(f"d{n}", f"rule-{n:02}", n, (EntityType.USER, f"u{n:02}")) for n in range(14)]
    text = case_description(many)
    assert "- and 4 more" in text
    users = text.split("**Users:**")[1].splitlines()[0]
    assert users.startswith(" `u00`, `u01`")
    assert users.endswith("and 4 more")
