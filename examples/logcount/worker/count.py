"""count: one instance per shard; counts the log levels of shard-<instance id>.txt.

The instance id (BATCH_COMPUTE_DAG_INSTANCE_ID, 0..InstanceCount-1) picks this
instance's share; the counts go to /home/output/count-<id>.json for the merge task.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

INPUT_DIR = Path("/home/input")
OUTPUT_DIR = Path("/home/output")


def count(shard: Path) -> dict[str, int]:
    """Lines per level; a line looks like `<time> <LEVEL> <method> <path> <status>`."""
    levels: Counter[str] = Counter()
    for line in shard.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if len(words) >= 2:
            levels[words[1]] += 1
    return dict(sorted(levels.items()))


def main() -> None:
    instance = int(os.environ["BATCH_COMPUTE_DAG_INSTANCE_ID"])
    shard = INPUT_DIR / f"shard-{instance}.txt"
    counts = count(shard)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUTPUT_DIR / f"count-{instance}.json").write_text(json.dumps(counts), encoding="utf-8")
    print(f"instance {instance}: {sum(counts.values())} lines in {shard.name}: {counts}")


if __name__ == "__main__":
    main()
