"""The alert store interface.

`AlertStore` is what readers need (the cases API's alert search): one alert by id, a
filtered page, a count, always within one tenant, raw payload only when asked for.
`AlertIndex` is the write side of a store that is fed from Postgres (OpenSearch): bulk
index and remove, idempotent by alert id.

Postgres implements `AlertStore` only. Its write is not here on purpose: alerts are
inserted by the case store inside alerting's grouping transaction, with their case
link, the audit events and the outbox rows (casestore.batch.apply_grouping), which is
what makes a detection become exactly one alert. A second write path could not keep that
guarantee, so there is none."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from libs.common.alertstore.model import (
    AlertDocument,
    AlertPage,
    AlertQuery,
    AlertRef,
    IndexOutcome,
)
from libs.common.settings import AlertStoreKind


class AlertStore(Protocol):
    @property
    def kind(self) -> AlertStoreKind: ...

    async def get(
        self, tenant_id: str, alert_id: uuid.UUID, *, payload: bool = False
    ) -> AlertDocument | None:
        """The tenant's alert, or None (another tenant's, or its case was deleted)."""
        ...

    async def search(
        self,
        tenant_id: str,
        query: AlertQuery,
        *,
        cursor: str | None = None,
        limit: int = 50,
        payload: bool = False,
    ) -> AlertPage:
        """Newest first by (effective time, id); `next_cursor` is None on the last page."""
        ...

    async def count(self, tenant_id: str, query: AlertQuery) -> int: ...

    async def close(self) -> None: ...


class AlertIndex(Protocol):
    async def prepare(self) -> None:
        """Create or update what the store needs before the first write (idempotent)."""
        ...

    async def index(
        self, documents: Sequence[AlertDocument], version: int | None = None
    ) -> IndexOutcome:
        """Write the documents (with their payloads) as they are now; writing one again
        replaces it, unless the store holds a write of a higher `version` (a later read
        of the same alert). Failed items are reported in the outcome, not raised."""
        ...

    async def remove(self, refs: Sequence[AlertRef], version: int | None = None) -> IndexOutcome:
        """Remove alerts that must no longer be found; one never stored counts as removed."""
        ...
