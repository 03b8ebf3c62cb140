"""split: deal the lines of every *.log under /home/input/ into SHARD_COUNT shard files.

Shard i goes to /home/output/shard-<i>.txt, which the job maps to OSS for the count task.
"""

from __future__ import annotations

import os
from pathlib import Path

INPUT_DIR = Path("/home/input")
OUTPUT_DIR = Path("/home/output")


def split(input_dir: Path, output_dir: Path, shards: int) -> list[int]:
    """Write the shards round-robin; answer how many lines each one got."""
    lines: list[str] = []
    for path in sorted(input_dir.glob("*.log")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    output_dir.mkdir(parents=True, exist_ok=True)
    sizes = []
    for index in range(shards):
        shard = lines[index::shards]
        (output_dir / f"shard-{index}.txt").write_text(
            "".join(line + "\n" for line in shard), encoding="utf-8"
        )
        sizes.append(len(shard))
    return sizes


def main() -> None:
    shards = int(os.environ.get("SHARD_COUNT", "3"))
    sizes = split(INPUT_DIR, OUTPUT_DIR, shards)
    print(f"split {sum(sizes)} lines from {INPUT_DIR} into {shards} shards: {sizes}")


if __name__ == "__main__":
    main()
