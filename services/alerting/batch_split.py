"""One partition's batch cut into parts by Kafka key, for concurrent transactions.

Records of one key (tenant and host, `DetectionV1.partition_key`) stay in one part, in
offset order: a part is what a partition would be if the topic had more of them, and
alerting is already correct with many partitions worked at once (grouping and
correlation lock their keys in one global order: docs/correlation.md, "Guarantees").

Why: a partition works one batch at a time, and within a batch Python and PostgreSQL
take turns. When one partition holds most of a backlog (a few busy hosts hash to it),
its last stretch drains alone with a core half idle; two parts of its batch keep both
busy. Pure."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

Item = TypeVar("Item")


def split_by_key(
    items: Sequence[Item], keys: Sequence[Hashable], parts: int, min_part: int
) -> list[list[Item]]:
    """`items` (with their `keys`, one each) in at most `parts` parts of at least
    `min_part` items each, every key in one part, every part in the items' order. Keys go
    largest first to the smallest part, so parts come out close to even whatever the
    keys' sizes; fewer parts, down to one, where that cannot give every part `min_part`."""
    by_key: dict[Hashable, list[int]] = {}
    for at, key in enumerate(keys):
        by_key.setdefault(key, []).append(at)
    groups = sorted(by_key.values(), key=len, reverse=True)
    for count in range(min(parts, len(groups), len(items) // max(min_part, 1)), 1, -1):
        chosen: list[list[int]] = [[] for _ in range(count)]
        for positions in groups:
            min(chosen, key=len).extend(positions)
        if all(len(part) >= min_part for part in chosen):
            return [[items[at] for at in sorted(part)] for part in chosen]
    return [list(items)] if items else []
