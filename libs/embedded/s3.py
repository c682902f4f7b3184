"""Where an S3-compatible store answers, and the credentials Tansu reads from AWS_*."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def aws_env(self) -> dict[str, str]:
        """The variables Tansu's s3:// storage engine reads (see ENVIRONMENT.md)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT": self.url,
            # The embedded store speaks plain HTTP on loopback.
            "AWS_ALLOW_HTTP": "true",
        }
