"""Built-in playbooks. A playbook says which case events it reacts to and what it does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from libs.common.contracts.cases import CaseEventV1, CaseOpenedV1
from libs.common.contracts.detections import Severity
from services.executor.cases_client import CasesApiClient


class Playbook(Protocol):
    name: str

    def matches(self, event: CaseEventV1) -> bool: ...

    async def run(
        self, event: CaseEventV1, cases: CasesApiClient, run_key: str
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class NoteOnCriticalCase:
    """Every new critical case gets a note telling the analyst it needs attention now."""

    name: str = "note-critical-case"

    def matches(self, event: CaseEventV1) -> bool:
        return isinstance(event, CaseOpenedV1) and event.severity is Severity.CRITICAL

    async def run(self, event: CaseEventV1, cases: CasesApiClient, run_key: str) -> dict[str, Any]:
        assert isinstance(event, CaseOpenedV1)
        body = (
            f"Critical case #{event.case_number} opened with {len(event.alert_ids)} alert(s). "
            "Triage within the 15-minute SLA: confirm the affected host and contain if needed."
        )
        note = await cases.add_note(event.case_id, body, idempotency_key=run_key)
        return {"note_id": note["id"]}


BUILT_IN_PLAYBOOKS: tuple[Playbook, ...] = (NoteOnCriticalCase(),)  # type: ignore[assignment]
