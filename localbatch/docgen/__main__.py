"""`python -m localbatch.docgen [--check] [ROOT]`: refresh the generated parts of the docs.

Then list every relative link that leads nowhere; exit 1 if there is one (or, with
`--check`, if a page is out of date: nothing is written then).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localbatch.docgen.links import broken_links, linked_pages
from localbatch.docgen.pages import stale, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localbatch.docgen", description=__doc__)
    parser.add_argument("root", nargs="?", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument("--check", action="store_true", help="change nothing, report stale pages")
    args = parser.parse_args(argv)
    problems = []
    if args.check:
        problems = [f"out of date: {page} (run `make docs`)" for page in stale(args.root)]
    else:
        for page in write(args.root):
            print(f"updated {page}")
    for page in linked_pages(args.root):
        problems += broken_links(page)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
