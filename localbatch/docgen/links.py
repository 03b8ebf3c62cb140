"""Relative links of the Markdown pages that lead nowhere: a missing file or heading.

A moved section must not leave a link behind that 404s or lands at the top of a page;
`tests/unit/docgen` runs this over README.md, docs/ and examples/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from localbatch.docgen.headings import headings, prose_lines
from localbatch.docgen.pages import pages

_CODE_SPAN = re.compile(r"`[^`]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def linked_pages(root: Path) -> list[Path]:
    """The pages whose links are checked."""
    return [*pages(root), root / "examples/README.md"]


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link outside code."""
    found = []
    for number, line in prose_lines(text):
        for match in _LINK.finditer(_CODE_SPAN.sub("", line)):
            found.append((number, match[1]))
    return found


def _anchors(page: Path) -> set[str]:
    return {heading.anchor for heading in headings(page.read_text())}


def broken_links(page: Path) -> list[str]:
    """`page:line: target (reason)` for each relative link of `page` that does not resolve."""
    problems = []
    for number, target in links(page.read_text()):
        if _SCHEME.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        reason = ""
        if not destination.exists():
            reason = "no such file"
        elif anchor and destination.suffix == ".md" and anchor not in _anchors(destination):
            reason = f"no heading #{anchor} in {destination.name}"
        if reason:
            problems.append(f"{page}:{number}: {target} ({reason})")
    return problems
