"""Headings of a Markdown page, their anchors as GitHub makes them, and a table of contents.

The link check and the tables of contents must agree with what GitHub renders, so the slug
rule lives here once: lower case, every character that is not a letter, digit, space,
hyphen or underscore dropped, spaces turned into hyphens, repeats numbered `-1`, `-2`, ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every line outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def slug(text: str) -> str:
    """GitHub's anchor for a heading's text (before numbering repeats)."""
    text = _LINK.sub(r"\1", text).lower()
    kept = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def headings(text: str) -> list[Heading]:
    """Every heading outside code blocks, with its unique anchor."""
    seen: dict[str, int] = {}
    found: list[Heading] = []
    for _, line in prose_lines(text):
        match = _HEADING.match(line)
        if match is None:
            continue
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchor = base if count == 0 else f"{base}-{count}"
        found.append(Heading(len(match[1]), match[2], anchor))
    return found


#: The heading the table of contents sits under; not listed in itself.
CONTENTS = "Contents"


def table_of_contents(text: str, deepest: int = 3) -> str:
    """A nested list of links to the page's `##` .. `deepest` headings."""
    entries = []
    for heading in headings(text):
        if 2 <= heading.level <= deepest and heading.text != CONTENTS:
            indent = "  " * (heading.level - 2)
            entries.append(f"{indent}- [{heading.text}](#{heading.anchor})")
    return "\n".join(entries)
