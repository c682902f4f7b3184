"""What the dev stack shows once it is up: where things are and how to try them."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from libs.embedded.dev_credentials import DevCredentials


def redacted(url: str) -> str:
    """The URL without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def sample_detection() -> dict[str, object]:
    return {
        "detection_id": "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S"),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": "curl",
        "rule": {"id": "demo-encoded-powershell", "title": "Encoded PowerShell", "level": "high"},
        "mitre": {"techniques": ["T1059.001"], "tactics": ["execution"]},
        "host": {"name": "ws-017"},
        "user": {"name": "alice"},
    }


def curl_examples(ingest_url: str, cases_url: str, credentials: DevCredentials) -> str:
    post = [
        "curl", "-sS", "-X", "POST", f"{ingest_url}/api/v1/detections",
        "-H", f"Authorization: Bearer {credentials.ingest_key}",
        "-H", "Content-Type: application/json",
        "-d", json.dumps(sample_detection()),
    ]  # fmt: skip
    listing = [
        "curl", "-sS", f"{cases_url}/api/v1/cases",
        "-H", f"Authorization: Bearer {credentials.analyst_key}",
    ]  # fmt: skip
    return f"  {shlex.join(post)}\n  {shlex.join(listing)}"


def stack_banner(
    *,
    ingest_url: str,
    cases_url: str,
    bootstrap_servers: str,
    kafka_storage: str,
    database_url: str,
    redis_note: str,
    s3_note: str,
    webhook_urls: list[str],
    credentials: DevCredentials,
    credentials_file: str,
    log_dir: str,
) -> str:
    webhooks = ", ".join(webhook_urls) or "none (add --webhook URL)"
    return "\n".join(
        [
            "",
            "Casestream dev stack",
            f"  ingest    {ingest_url}    API docs {ingest_url}/docs",
            f"  cases     {cases_url}    API docs {cases_url}/docs",
            f"  kafka     {bootstrap_servers}    Tansu, {kafka_storage}",
            f"  postgres  {redacted(database_url)}",
            f"  redis     {redis_note}",
            f"  s3        {s3_note}",
            f"  webhooks  {webhooks}",
            "",
            f'Dev credentials, tenant "{credentials.tenant}" (kept in {credentials_file}):',
            f"  ingest API key (siem)                {credentials.ingest_key}",
            f"  cases API key (analyst)              {credentials.analyst_key}",
            f"  admin key (policies, source keys)    {credentials.admin_key}",
            f"  cases API key (executor-playbooks)   {credentials.executor_key}",
            f"  webhook signing secret               {credentials.webhook_secret}",
            "",
            "Post a detection, then list cases:",
            curl_examples(ingest_url, cases_url, credentials),
            "",
            f"Broker and storage logs: {log_dir}. Ctrl-C stops everything.",
            "",
        ]
    )
