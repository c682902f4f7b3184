"""Credentials the dev stack issues: API keys for ingest and cases, the executor's
service key and the webhook signing secret.

Kept in the state directory (mode 0600) and reused, so keys pasted into scripts and
curl lines keep working across restarts; delete the file to rotate them."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

DEV_TENANT = "dev"


def _api_key(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def new_webhook_secret() -> str:
    """Standard Webhooks form: "whsec_" + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class DevCredentials:
    tenant: str
    ingest_key: str
    analyst_key: str
    executor_key: str
    webhook_secret: str
    # Tenant admin: alerting and case policies, source keys (ingest and cases admin APIs).
    admin_key: str

    @classmethod
    def generate(cls, tenant: str = DEV_TENANT) -> DevCredentials:
        return cls(
            tenant=tenant,
            ingest_key=_api_key("csi"),
            analyst_key=_api_key("csc"),
            executor_key=_api_key("csx"),
            webhook_secret=new_webhook_secret(),
            admin_key=_api_key("csa"),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> DevCredentials:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            pass  # missing or from an older layout: issue new ones
        credentials = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(asdict(credentials), file, indent=2)
        return credentials
