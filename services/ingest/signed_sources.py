"""Sources that sign their deliveries instead of sending a key (SIEM alert actions,
webhook relays), per Standard Webhooks: HMAC-SHA256 over id, timestamp and body, with a
shared secret per source and a five-minute tolerance on the timestamp against replays."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from libs.common.errors import NotFound, Unauthorized
from libs.common.http import Principal


class SignedSource(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    tenant: str = Field(min_length=1, max_length=64)
    # "whsec_" + base64 of at least 24 random bytes, as Standard Webhooks senders expect.
    secret: SecretStr


class SignedSourceVerifier:
    def __init__(self, sources: list[SignedSource]) -> None:
        self._sources = {
            source.name: (source, Webhook(source.secret.get_secret_value())) for source in sources
        }

    def verify(self, source_name: str, body: bytes, headers: dict[str, str]) -> Principal:
        found = self._sources.get(source_name)
        if found is None:
            raise NotFound("no signed source by that name", source=source_name[:128])
        source, verifier = found
        try:
            verifier.verify(body, headers)
        except WebhookVerificationError as error:
            # The library's words ("Message timestamp too old", "No matching signature
            # found", "Missing required headers") say what to fix and reveal no secret.
            raise Unauthorized(f"webhook signature rejected: {error}") from error
        return Principal(source.tenant, f"webhook:{source.name}", source.name)
