"""One error family for the domain. Each error carries a stable code and an HTTP status;
a single FastAPI handler renders them, so routes never map exceptions themselves."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    status_code = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers: dict[str, str] = {}

    def with_headers(self, headers: dict[str, str]) -> DomainError:
        self.headers = {**self.headers, **headers}
        return self

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(DomainError):
    code = "not_found"
    status_code = 404


class Unauthorized(DomainError):
    code = "unauthorized"
    status_code = 401


class Forbidden(DomainError):
    code = "forbidden"
    status_code = 403


class InvalidInput(DomainError):
    code = "invalid_input"
    status_code = 422


class MissingRequiredFields(InvalidInput):
    """A move needs fields the case does not have yet; details name them."""

    code = "missing_required_fields"


class TooManyTasks(InvalidInput):
    """A case would hold more tasks than the limit; details name the limit."""

    code = "too_many_tasks"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status_code = 413


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"
    status_code = 415


class IllegalTransition(DomainError):
    code = "illegal_transition"
    status_code = 409


class Conflict(DomainError):
    code = "conflict"
    status_code = 409


class LegalHoldActive(Conflict):
    """The case is on legal hold: it may not be deleted (release the hold first)."""

    code = "legal_hold_active"


class NotOnLegalHold(Conflict):
    code = "not_on_legal_hold"


class BrokerUnavailable(DomainError):
    code = "broker_unavailable"
    status_code = 503


class OutboundUrlRefused(DomainError):
    code = "outbound_url_refused"
    status_code = 422


class ObjectStoreUnavailable(DomainError):
    """The S3 store did not answer or refused the request; nothing was recorded."""

    code = "object_store_unavailable"
    status_code = 503


class StoredObjectMissing(DomainError):
    """A recorded object is not in the store: the server's fault, never the caller's."""

    code = "stored_object_missing"
    status_code = 500


class AlertStoreUnavailable(DomainError):
    """The configured alert store (OpenSearch) did not answer; Postgres-backed reads of
    cases and alert provenance still work."""

    code = "alert_store_unavailable"
    status_code = 503
