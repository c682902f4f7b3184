"""Real detections from ../shared/data, read at test time (never copied into the repo)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_detections(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def e2e_sample(data_dir: Path, size: int = 500) -> list[dict[str, Any]]:
    """The SigmaHQ regression detections plus OTRF ones, always including every critical
    detection so the critical-case playbook has work. Deterministic."""
    regression = list(read_detections(data_dir / "detections" / "sigma_regression.jsonl.gz"))
    otrf = list(read_detections(data_dir / "detections" / "otrf_sigma.jsonl.gz"))
    critical = [d for d in otrf if d["rule"]["level"] == "critical"]
    rest = [d for d in otrf if d["rule"]["level"] != "critical"]
    sample = (regression + critical + rest)[:size]
    assert len(sample) == size
    return sample
