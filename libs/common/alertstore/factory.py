"""The alert store a service reads from, chosen by CASESTREAM__ALERT_STORE__KIND."""

from __future__ import annotations

from libs.common.alertstore.opensearch import OpenSearchAlertStore
from libs.common.alertstore.postgres import PostgresAlertStore
from libs.common.alertstore.protocol import AlertStore
from libs.common.db.engine import SessionFactory
from libs.common.settings import AlertStoreKind, AlertStoreSettings


def create_alert_store(settings: AlertStoreSettings, sessions: SessionFactory) -> AlertStore:
    """Postgres by default; OpenSearch when configured (its client connects lazily)."""
    if settings.kind is AlertStoreKind.OPENSEARCH:
        return OpenSearchAlertStore(settings.opensearch)
    return PostgresAlertStore(sessions)
