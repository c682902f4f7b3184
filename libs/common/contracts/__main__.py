"""`python -m libs.common.contracts` rewrites the schema snapshots after a compatible change."""

from __future__ import annotations

from libs.common.contracts.snapshots import write_snapshots

if __name__ == "__main__":
    for path in write_snapshots():
        print(f"wrote {path}")
