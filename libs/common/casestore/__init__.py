"""The single write path for cases: every change writes its audit event and outbox row."""
