"""Casestream services as processes, on the test session's broker and database."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from libs.embedded.pipeline import PipelineConfig, ServiceProcesses
from libs.embedded.tansu import TansuBroker


def service_processes(
    names: tuple[str, ...],
    tansu: TansuBroker,
    database_url: str,
    tenant: str,
    log_dir: Path,
    extra_env: Mapping[str, str] | None = None,
) -> ServiceProcesses:
    """`python -m services.<name>` for each name (not started), with fresh credentials."""
    return ServiceProcesses(
        PipelineConfig.with_fresh_credentials(
            database_url=database_url,
            bootstrap_servers=tansu.bootstrap_servers,
            tenant=tenant,
            log_dir=log_dir,
            extra_env=dict(extra_env or {}),
        ),
        names=names,
    )
