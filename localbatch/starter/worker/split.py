"""Task `split`: deal the lines of the input files into PARTS parts, one per `count` instance.

Reads the task's InputMapping directory, writes part-0.txt ... into its OutputMapping
directory, which localbatch uploads when the instance ends; the next task maps the same
OSS folder as its input.
"""

import os
from pathlib import Path

INPUT = Path("/home/input")
OUTPUT = Path("/home/output")


def main() -> None:
    parts = int(os.environ["PARTS"])
    lines = []
    for path in sorted(INPUT.glob("*.txt")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    for number in range(parts):
        chosen = lines[number::parts]
        (OUTPUT / f"part-{number}.txt").write_text("".join(f"{line}\n" for line in chosen))
    print(f"split {len(lines)} lines into {parts} parts")


if __name__ == "__main__":
    main()
