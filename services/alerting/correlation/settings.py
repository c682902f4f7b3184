"""Where correlation rules come from; nested under `alerting` in the service settings
(`CASESTREAM__ALERTING__CORRELATION__RULES_DIR=/etc/casestream/correlation`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class CorrelationSettings(BaseModel):
    # A directory of `<tenant>.yaml` (or `.yml`) files, one rule set per tenant.
    rules_dir: Path | None = None
    # Tenant -> rule file; wins over a file of the same tenant in `rules_dir`.
    rules_files: dict[str, Path] = Field(default_factory=dict)
    # State of an entity not touched for this long (wall clock) is dropped, so entities
    # seen once do not accumulate forever. Longer than any rule's window plus lateness.
    stale_after_hours: int = Field(default=24 * 31, ge=1)
    # At most this many stale entries are dropped per batch, to keep batches short.
    stale_sweep_limit: int = Field(default=100, ge=0, le=10_000)
