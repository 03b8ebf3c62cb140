"""Task `count`: count the words of the part this instance is given.

Each instance reads the part its BATCH_COMPUTE_DAG_INSTANCE_ID names (0, 1, ...) and writes
count-<id>.json into its OutputMapping directory.
"""

import collections
import json
import os
from pathlib import Path

INPUT = Path("/home/input")
OUTPUT = Path("/home/output")


def main() -> None:
    instance = os.environ["BATCH_COMPUTE_DAG_INSTANCE_ID"]
    words = (INPUT / f"part-{instance}.txt").read_text(encoding="utf-8").lower().split()
    counts = collections.Counter(words)
    result = OUTPUT / f"count-{instance}.json"
    result.write_text(json.dumps(dict(counts.most_common()), indent=2) + "\n")
    print(f"instance {instance}: {len(words)} words, {len(counts)} different")


if __name__ == "__main__":
    main()
