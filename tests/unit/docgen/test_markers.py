"""Generated blocks: only their bodies change; broken markers are refused, not skipped."""

from __future__ import annotations

import pytest

from localbatch.docgen.markers import MarkerError, block_names, fill

PAGE = """# Title

Prose stays, even `<!-- begin generated: quoted -->` inside a line.

<!-- begin generated: one -->
old one
<!-- end generated: one -->

Between.

<!-- begin generated: two -->
<!-- end generated: two -->
"""


def test_only_the_bodies_are_replaced() -> None:
    result = fill(PAGE, lambda name, body: f"new {name}")
    assert result == PAGE.replace("old one\n", "new one\n").replace(
        "<!-- begin generated: two -->\n", "<!-- begin generated: two -->\nnew two\n"
    )
    assert block_names(PAGE) == ["one", "two"]


def test_the_renderer_gets_the_current_body() -> None:
    seen = {}
    fill(PAGE, lambda name, body: seen.setdefault(name, body))
    assert seen == {"one": "old one\n", "two": ""}


@pytest.mark.parametrize(
    "broken",
    [
        "<!-- begin generated: one -->\nbody\n",
        "body\n<!-- end generated: one -->\n",
        "<!-- begin generated: one -->\nbody\n<!-- end generated: two -->\n",
    ],
)
def test_unpaired_markers_are_an_error(broken: str) -> None:
    with pytest.raises(MarkerError):
        fill(PAGE + broken, lambda name, body: body)
