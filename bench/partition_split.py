"""How the benchmark corpus splits over the partitions of `detections.v1` under a tenant.

A detection's Kafka key is its tenant and host, and alerting works one batch per
partition at a time, so the share of the largest partition bounds how fast a backlog
drains: the tenant's name decides the split. `bench.alerting` uses a fixed name whose
split is the median of many random names', for the shipped partition count and for 3.
This prints that distribution and the chosen name's split, so the choice can be checked:
`uv run python -m bench.partition_split`."""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

from bench.alerting import PARTITIONS, TENANT, as_published
from bench.replay import load_corpus
from libs.common.contracts.detections import detection_partition_key
from libs.common.kafka import murmur2_partitioner

ROOT = Path(__file__).resolve().parent.parent


def split(hosts: Counter[str | None], tenant: str, partitions: int) -> list[float]:
    """Each partition's share of the detections, largest first."""
    counts = [0] * partitions
    every = list(range(partitions))
    for host, count in hosts.items():
        counts[murmur2_partitioner(detection_partition_key(tenant, host), every, every)] += count
    total = sum(counts)
    return sorted((count / total for count in counts), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--names", type=int, default=201, help="random tenant names drawn")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    hosts = Counter(d.host for d in as_published(load_corpus(args.data), TENANT))
    rng = random.Random(args.seed)
    names = [f"bench-alerting-{rng.randrange(16**6):06x}" for _ in range(args.names)]
    for partitions in sorted({PARTITIONS, 3}):
        largest = sorted(split(hosts, name, partitions)[0] for name in names)
        quartiles = [largest[round(q * (len(largest) - 1))] for q in (0, 0.25, 0.5, 0.75, 1)]
        chosen = split(hosts, TENANT, partitions)
        print(
            f"{partitions} partitions, largest share of {len(names)} random names:"
            f" min/q1/median/q3/max {' / '.join(f'{q:.3f}' for q in quartiles)};"
            f" {TENANT}: {' / '.join(f'{s:.3f}' for s in chosen)}"
        )


if __name__ == "__main__":
    main()
