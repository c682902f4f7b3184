"""The case state machine: one table of legal transitions."""

from __future__ import annotations

from libs.common.contracts.cases import CaseStatus
from libs.common.errors import IllegalTransition

S = CaseStatus

TRIAGE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset({S.ACKNOWLEDGED, S.IN_PROGRESS, S.RESOLVED, S.CLOSED}),
    S.ACKNOWLEDGED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.CLOSED}),
    # Reopening goes back to work, not to triage: the case was already acknowledged.
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.CLOSED: frozenset({S.IN_PROGRESS}),
}

INITIAL_STATUS = S.NEW
# Statuses in which a case still accepts newly grouped alerts.
OPEN_STATUSES: frozenset[CaseStatus] = frozenset({S.NEW, S.ACKNOWLEDGED, S.IN_PROGRESS})


def allowed_transitions(current: CaseStatus) -> list[CaseStatus]:
    return sorted(TRIAGE_TRANSITIONS.get(current, frozenset()))


def check_transition(current: CaseStatus, target: CaseStatus) -> None:
    if target not in TRIAGE_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(
            f"cannot move a case from {current} to {target}",
            current=current.value,
            requested=target.value,
            allowed=[status.value for status in allowed_transitions(current)],
        )
