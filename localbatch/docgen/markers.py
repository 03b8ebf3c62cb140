"""Find and replace the generated blocks of a Markdown page.

A block is a line `<!-- begin generated: NAME -->`, its content, a line
`<!-- end generated: NAME -->`; everything outside the markers is the author's and is never
touched (a marker quoted inside a line is text, not a marker).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_BLOCK = re.compile(
    r"^(?P<begin><!-- begin generated: (?P<name>[a-z0-9-]+) -->\n)"
    r"(?P<body>.*?)"
    r"^(?P<end><!-- end generated: (?P=name) -->)$",
    re.DOTALL | re.MULTILINE,
)
#: Any marker line, paired or not.
_MARKER = re.compile(r"^<!-- (begin|end) generated: .*-->$", re.MULTILINE)


class MarkerError(ValueError):
    """A page whose markers do not pair up, or that names an unknown block."""


def block_names(text: str) -> list[str]:
    """The names of the generated blocks of a page, in page order."""
    return [match["name"] for match in _BLOCK.finditer(text)]


def fill(text: str, render: Callable[[str, str], str]) -> str:
    """`text` with the body of every block replaced by `render(name, current body)`.

    A begin marker without its end (or the other way round) is an error rather than a
    silent skip: the block would otherwise never be refreshed.
    """
    if len(_MARKER.findall(text)) != 2 * len(block_names(text)):
        raise MarkerError("unpaired <!-- begin/end generated --> markers")

    def replace(match: re.Match[str]) -> str:
        body = render(match["name"], match["body"]).rstrip("\n") + "\n"
        return match["begin"] + body + match["end"]

    return _BLOCK.sub(replace, text)
