"""The alert store: one interface for reading alerts (protocol.py), Postgres by default
(postgres.py) or OpenSearch (opensearch.py), chosen by CASESTREAM__ALERT_STORE__KIND
(factory.py). See docs/alert-store.md."""
