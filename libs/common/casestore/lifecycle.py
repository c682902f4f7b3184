"""The case state machines: per workflow, one table of legal transitions and one table of
fields a move requires. A tenant picks its workflow (its case policy); each case keeps the
workflow it was opened under, so changing the policy never strands a case in a status
the new workflow does not know."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from libs.common.contracts.cases import CaseClassification, CaseStatus
from libs.common.errors import IllegalTransition, MissingRequiredFields

S = CaseStatus


class WorkflowName(StrEnum):
    TRIAGE = "triage"
    INCIDENT_RESPONSE = "incident_response"


@dataclass(frozen=True)
class Workflow:
    name: WorkflowName
    initial: CaseStatus
    transitions: Mapping[CaseStatus, frozenset[CaseStatus]]
    # Target status -> case fields that must be set (classification: not pending).
    requires: Mapping[CaseStatus, tuple[str, ...]]
    # Entering one of these starts the work (in_progress_at).
    work_statuses: frozenset[CaseStatus]

    @property
    def statuses(self) -> frozenset[CaseStatus]:
        return frozenset(self.transitions) | frozenset().union(*self.transitions.values())

    @property
    def open_statuses(self) -> frozenset[CaseStatus]:
        """Statuses in which a case still accepts newly grouped alerts."""
        return self.statuses - DONE_STATUSES

    def allowed(self, current: CaseStatus) -> list[CaseStatus]:
        return sorted(self.transitions.get(current, frozenset()))


# Out of the queue in every workflow; moving out of resolved/closed is a reopen.
DONE_STATUSES = frozenset({S.RESOLVED, S.CLOSED, S.MERGED})
REOPENABLE = frozenset({S.RESOLVED, S.CLOSED})
# Reopening goes back to work, not to triage: the case was already acknowledged.
_REOPEN = {S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}), S.CLOSED: frozenset({S.IN_PROGRESS})}
_FINISH = frozenset({S.RESOLVED, S.CLOSED, S.MERGED})

TRIAGE = Workflow(
    name=WorkflowName.TRIAGE,
    initial=S.NEW,
    transitions={
        S.NEW: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.ESCALATED}) | _FINISH,
        S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS, S.ESCALATED}) | _FINISH,
        S.IN_PROGRESS: frozenset({S.ESCALATED}) | _FINISH,
        S.ESCALATED: frozenset({S.IN_PROGRESS}) | _FINISH,
        **_REOPEN,
    },
    requires={S.RESOLVED: ("classification",), S.CLOSED: ("classification",)},
    work_statuses=frozenset({S.IN_PROGRESS}),
)

# NIST SP 800-61 phases. `investigating` and `escalated` are accepted as working statuses
# for tenants whose tooling still sends them (they behave like in_progress).
_IR_WORKING = frozenset({S.IN_PROGRESS, S.INVESTIGATING, S.ESCALATED})
_IR_FROM_WORK = frozenset({S.PENDING_APPROVAL, S.CONTAINED}) | _FINISH
INCIDENT_RESPONSE = Workflow(
    name=WorkflowName.INCIDENT_RESPONSE,
    initial=S.OPEN,
    transitions={
        S.OPEN: _IR_WORKING | _IR_FROM_WORK,
        **{status: (_IR_WORKING - {status}) | _IR_FROM_WORK for status in _IR_WORKING},
        # Approval granted: contain; refused: back to work.
        S.PENDING_APPROVAL: frozenset({S.CONTAINED, S.IN_PROGRESS}) | _FINISH,
        S.CONTAINED: frozenset({S.ERADICATED, S.IN_PROGRESS}) | _FINISH,
        S.ERADICATED: frozenset({S.RECOVERED, S.IN_PROGRESS}) | _FINISH,
        S.RECOVERED: frozenset({S.IN_PROGRESS}) | _FINISH,
        **_REOPEN,
    },
    requires={
        S.RESOLVED: ("classification",),
        S.CLOSED: ("classification", "conclusion"),
    },
    work_statuses=frozenset({S.IN_PROGRESS, S.INVESTIGATING}),
)

WORKFLOWS: dict[WorkflowName, Workflow] = {w.name: w for w in (TRIAGE, INCIDENT_RESPONSE)}
DEFAULT_WORKFLOW = WorkflowName.TRIAGE

# Alerting checks openness without knowing the case's workflow; no status is open in one
# workflow and done in another, so the union is exact (a test holds this).
OPEN_STATUSES: frozenset[CaseStatus] = frozenset().union(
    *(w.open_statuses for w in WORKFLOWS.values())
)


def workflow_of(name: str) -> Workflow:
    return WORKFLOWS[WorkflowName(name)]


def check_transition(workflow: Workflow, current: CaseStatus, target: CaseStatus) -> None:
    if target not in workflow.transitions.get(current, frozenset()):
        raise IllegalTransition(
            f"cannot move a case from {current} to {target}",
            current=current.value,
            requested=target.value,
            workflow=workflow.name.value,
            allowed=[status.value for status in workflow.allowed(current)],
        )


def check_required_fields(workflow: Workflow, target: CaseStatus, case: Any) -> None:
    missing = [f for f in workflow.requires.get(target, ()) if not _is_set(f, case)]
    if missing:
        raise MissingRequiredFields(
            f"moving to {target} requires: {', '.join(missing)}",
            missing=missing,
            requested=target.value,
            workflow=workflow.name.value,
        )


def _is_set(field: str, case: Any) -> bool:
    value = getattr(case, field)
    if field == "classification":
        return bool(value) and value != CaseClassification.PENDING
    return value is not None and value != ""


def is_reopen(current: CaseStatus, target: CaseStatus) -> bool:
    return current in REOPENABLE and target not in DONE_STATUSES


def moved_timestamps(
    workflow: Workflow, case: Any, current: CaseStatus, target: CaseStatus, now: Any
) -> dict[str, Any]:
    """The case's time columns after a move from `current` to `target`."""
    values: dict[str, Any] = {}
    if current is workflow.initial and case.acknowledged_at is None:
        values["acknowledged_at"] = now  # MTTA counts the first move out of the initial status
    if target in workflow.work_statuses and case.in_progress_at is None:
        values["in_progress_at"] = now  # the first time work started; a reopen keeps it
    if target is S.RESOLVED:
        values["resolved_at"] = now
    if target in (S.CLOSED, S.MERGED):
        values["closed_at"] = now
        if case.resolved_at is None:
            values["resolved_at"] = now  # closed without a resolve step: MTTR stops here
    if is_reopen(current, target):
        values["resolved_at"] = None
        values["closed_at"] = None
    return values
