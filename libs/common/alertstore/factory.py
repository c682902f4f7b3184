"""The alert store a service reads from, chosen by CASESTREAM__ALERT_STORE__KIND."""

from __future__ import annotations

from typing import TYPE_CHECKING

from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.alertstore.protocol import AlertStore
from libs.common.db.engine import SessionFactory
from libs.common.settings import AlertStoreKind, AlertStoreSettings

if TYPE_CHECKING:
    from libs.common.alertstore.opensearch import OpenSearchAlertStore


def create_alert_store(settings: AlertStoreSettings, sessions: SessionFactory) -> AlertStore:
    """Postgres by default; OpenSearch when configured (its client connects lazily)."""
    if settings.kind is AlertStoreKind.OPENSEARCH:
        return create_opensearch_store(settings)
    return PostgresAlertStore(sessions)


def create_opensearch_store(settings: AlertStoreSettings) -> OpenSearchAlertStore:
    # Imported here: opensearch-py takes seconds to import, and a Postgres-only
    # deployment should not pay for it at every start.
    from libs.common.alertstore.opensearch import OpenSearchAlertStore

    return OpenSearchAlertStore(settings.opensearch)
