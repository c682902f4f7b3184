"""The OpenSearch alert store: daily indices, bulk writes with per-item results, the
tenant filter on every query. Layout and query bodies are in opensearch_layout.py.

Bulk writes go through opensearch-py's async bulk helper without raising, so every item
reports its own status. Items refused for a passing reason (429 too many requests, a
5xx, or a request that failed as a whole) are sent again with exponential backoff
(tenacity), only those; items refused for good (a 400 mapping error) are reported at
once. What is still failing after the last attempt is reported, never dropped silently:
the alert indexer then leaves its Kafka offsets uncommitted, so the batch comes again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, TransportError
from opensearchpy.helpers import async_streaming_bulk
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from libs.common.alertstore import opensearch_layout as layout
from libs.common.alertstore.cursor import Position, decode_cursor, encode_cursor
from libs.common.alertstore.model import (
    RETRIABLE_STATUSES,
    AlertDocument,
    AlertPage,
    AlertQuery,
    AlertRef,
    FailedItem,
    IndexOutcome,
)
from libs.common.errors import AlertStoreUnavailable
from libs.common.logging import get_logger
from libs.common.settings import AlertStoreKind, OpenSearchSettings

log = get_logger(__name__)
MISSING_INDICES_OK = {"ignore_unavailable": "true", "allow_no_indices": "true"}


class RetriableItems(Exception):
    """Some items of a bulk write failed for a passing reason; sent again with backoff."""

    def __init__(self, failures: dict[str, FailedItem]) -> None:
        super().__init__(f"{len(failures)} bulk item(s) to retry")
        self.failures = failures


def create_client(settings: OpenSearchSettings) -> AsyncOpenSearch:
    auth = None
    if settings.username is not None and settings.password is not None:
        auth = (settings.username, settings.password.get_secret_value())
    return AsyncOpenSearch(
        hosts=settings.hosts,
        http_auth=auth,
        verify_certs=settings.verify_certs,
        ca_certs=settings.ca_certs,
        timeout=settings.request_timeout_seconds,
    )


def item_failure(info: dict[str, Any]) -> FailedItem:
    error = info.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    else:
        reason = str(error or "failed")
    return FailedItem(
        alert_id=str(info.get("_id")), status=info.get("status", "N/A"), reason=reason
    )


def classify(op_type: str, info: dict[str, Any]) -> str:
    """'ok', 'retry' or 'failed' for one bulk item's answer."""
    status = info.get("status", "N/A")
    if isinstance(status, int) and 200 <= status < 300:
        return "ok"
    if op_type == "delete" and status == 404:
        return "ok"  # never indexed, or removed already: the wanted end state
    if status == 409:
        return "ok"  # only versioned writes conflict: a newer read is stored already
    return "retry" if status in RETRIABLE_STATUSES else "failed"


class OpenSearchAlertStore:
    def __init__(self, settings: OpenSearchSettings, client: AsyncOpenSearch | None = None):
        self._settings = settings
        self._client = client or create_client(settings)
        self._prepared = False

    @property
    def kind(self) -> AlertStoreKind:
        return AlertStoreKind.OPENSEARCH

    @property
    def client(self) -> AsyncOpenSearch:
        return self._client

    @property
    def settings(self) -> OpenSearchSettings:
        return self._settings

    async def prepare(self) -> None:
        if self._prepared:
            return
        await self._client.indices.put_index_template(
            name=layout.template_name(self._settings), body=layout.index_template(self._settings)
        )
        self._prepared = True
        log.info("alert_store.template_ready", template=layout.template_name(self._settings))

    async def index(
        self, documents: Sequence[AlertDocument], version: int | None = None
    ) -> IndexOutcome:
        await self.prepare()
        return await self._bulk(
            [layout.index_action(self._settings, d, version) for d in documents]
        )

    async def remove(self, refs: Sequence[AlertRef], version: int | None = None) -> IndexOutcome:
        return await self._bulk([layout.delete_action(self._settings, r, version) for r in refs])

    async def _bulk(self, actions: list[dict[str, Any]]) -> IndexOutcome:
        outcome = IndexOutcome()
        if not actions:
            return outcome
        pending = {action["_id"]: action for action in actions}
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.bulk_max_attempts),
            wait=wait_exponential(multiplier=self._settings.bulk_initial_backoff_seconds, max=30),
            retry=retry_if_exception_type(RetriableItems),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._send(pending, outcome)
        except RetriableItems as exhausted:
            outcome.failed += list(exhausted.failures.values())
        if outcome.failed:
            log.warning(
                "alert_store.bulk_failures",
                failed=len(outcome.failed),
                first=outcome.failed[0].reason[:300],
                status=outcome.failed[0].status,
            )
        return outcome

    async def _send(self, pending: dict[str, dict[str, Any]], outcome: IndexOutcome) -> None:
        """One pass over the pending actions: settled items leave `pending` for `outcome`;
        raises RetriableItems when some are left worth another attempt."""
        retry: dict[str, FailedItem] = {}
        async for _, item in async_streaming_bulk(
            self._client,
            list(pending.values()),
            chunk_size=self._settings.bulk_chunk_size,
            raise_on_error=False,
            raise_on_exception=False,
            yield_ok=True,
        ):
            op_type, info = next(iter(item.items()))
            verdict = classify(op_type, info)
            alert_id = str(info.get("_id"))
            if verdict == "ok":
                (outcome.removed if op_type == "delete" else outcome.indexed).append(alert_id)
            elif verdict == "retry":
                retry[alert_id] = item_failure(info)
                continue
            else:
                outcome.failed.append(item_failure(info))
            pending.pop(alert_id, None)
        unanswered = [alert_id for alert_id in pending if alert_id not in retry]
        for alert_id in unanswered:
            retry[alert_id] = FailedItem(alert_id, "N/A", "no answer for this item")
        if retry:
            raise RetriableItems(retry)

    async def refresh(self) -> None:
        """Make everything written so far searchable now (tests; normally ~1 s)."""
        await self._client.indices.refresh(index=layout.index_pattern(self._settings))

    async def get(
        self, tenant_id: str, alert_id: uuid.UUID, *, payload: bool = False
    ) -> AlertDocument | None:
        response = await self._read(
            self._client.search,
            index=layout.index_pattern(self._settings),
            body=layout.get_body(tenant_id, alert_id, payload),
        )
        hits = response["hits"]["hits"]
        return layout.document_from_source(hits[0]["_source"]) if hits else None

    async def search(
        self,
        tenant_id: str,
        query: AlertQuery,
        *,
        cursor: str | None = None,
        limit: int = 50,
        payload: bool = False,
    ) -> AlertPage:
        after = decode_cursor(cursor) if cursor is not None else None
        response = await self._read(
            self._client.search,
            index=layout.index_pattern(self._settings),
            body=layout.search_body(tenant_id, query, after, limit + 1, payload),
        )
        hits = response["hits"]["hits"]
        items = [layout.document_from_source(hit["_source"]) for hit in hits[:limit]]
        last = items[-1] if items else None
        more = len(hits) > limit and last is not None
        next_cursor = (
            encode_cursor(Position(last.effective_time, last.id)) if more and last else None
        )
        return AlertPage(items=items, next_cursor=next_cursor)

    async def count(self, tenant_id: str, query: AlertQuery) -> int:
        response = await self._read(
            self._client.count,
            index=layout.index_pattern(self._settings),
            body={"query": layout.query_filter(tenant_id, query)},
        )
        return int(response["count"])

    async def _read(self, call: Any, *, index: str, body: dict[str, Any]) -> Any:
        """A search or count over every alert index; none existing yet is no alert."""
        try:
            return await call(index=index, body=body, params=MISSING_INDICES_OK)
        except NotFoundError:
            return {"hits": {"hits": []}, "count": 0}
        except TransportError as error:
            log.warning("alert_store.read_failed", status=error.status_code, error=str(error)[:300])
            raise AlertStoreUnavailable("the alert store did not answer") from error

    async def close(self) -> None:
        await self._client.close()
