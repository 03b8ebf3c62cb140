"""merge: add up every count-*.json under /home/input/ into /home/output/result.json."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

INPUT_DIR = Path("/home/input")
OUTPUT_DIR = Path("/home/output")


def merge(input_dir: Path) -> dict[str, int]:
    """The sum of all partial counts, by level."""
    total: Counter[str] = Counter()
    for path in sorted(input_dir.glob("count-*.json")):
        total.update(json.loads(path.read_text(encoding="utf-8")))
    return dict(sorted(total.items()))


def main() -> None:
    parts = sorted(INPUT_DIR.glob("count-*.json"))
    total = merge(INPUT_DIR)
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUTPUT_DIR / "result.json").write_text(json.dumps(total, indent=2) + "\n", encoding="utf-8")
    print(f"merged {len(parts)} partial counts: {sum(total.values())} lines")
    for level, number in total.items():
        print(f"  {level}: {number}")


if __name__ == "__main__":
    main()
