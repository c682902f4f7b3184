"""SLA notices: when a case nears (`sla.pre_breach`) or passes (`sla.breached`) a due
time. Each notice is recorded at most once per case and target; the case row keeps which
ones were (`sla_notices`), written in the same transaction as the event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from libs.common.casestore.lifecycle import OPEN_STATUSES
from libs.common.contracts.cases import CaseStatus
from libs.common.db.models import Case

Target = Literal["ack", "resolve"]
Kind = Literal["sla.pre_breach", "sla.breached"]
DEFAULT_PRE_BREACH_RATIO = 0.8


@dataclass(frozen=True)
class SlaNotice:
    target: Target
    kind: Kind
    due_at: datetime

    @property
    def marker(self) -> str:
        return f"{self.target}.{self.kind.removeprefix('sla.')}"


def due_notices(case: Case, now: datetime, pre_breach_ratio: float) -> list[SlaNotice]:
    """The notices `case` owes at `now`. A case found already past its due time gets the
    breach only: a warning after the fact would tell nobody anything."""
    if CaseStatus(case.status) not in OPEN_STATUSES or case.deleted_at is not None:
        return []
    notices = []
    targets: list[tuple[Target, datetime | None, datetime | None]] = [
        ("ack", case.ack_due_at, case.acknowledged_at),
        ("resolve", case.resolve_due_at, case.resolved_at),
    ]
    for target, due_at, done_at in targets:
        if due_at is None or done_at is not None:
            continue
        warn_at = case.created_at + (due_at - case.created_at) * pre_breach_ratio
        for kind, moment in (("sla.breached", due_at), ("sla.pre_breach", warn_at)):
            notice = SlaNotice(target, kind, due_at)  # type: ignore[arg-type]
            if moment <= now and not _recorded(case, target, notice):
                notices.append(notice)
                break  # breached: no pre-breach as well
    return notices


def _recorded(case: Case, target: Target, notice: SlaNotice) -> bool:
    done = set(case.sla_notices)
    # A recorded breach also settles the pre-breach warning of the same target.
    return notice.marker in done or f"{target}.breached" in done
