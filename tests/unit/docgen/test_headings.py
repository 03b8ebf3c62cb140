"""Anchors as GitHub makes them, and tables of contents built from them."""

from __future__ import annotations

import pytest

from localbatch.docgen.headings import headings, slug, table_of_contents


@pytest.mark.parametrize(
    ("text", "anchor"),
    [
        ("Running a job", "running-a-job"),
        ("Choosing: `--runtime auto|docker|process`", "choosing---runtime-autodockerprocess"),
        ("Where `oss://bucket/key` lives", "where-ossbucketkey-lives"),
        ("Layout (`<state-dir>/jobs/<job-id>/`)", "layout-state-dirjobsjob-id"),
        ("Not done / limits", "not-done--limits"),
        ("snake_case kept", "snake_case-kept"),
        ("[Linked](other.md) title", "linked-title"),
    ],
)
def test_slug(text: str, anchor: str) -> None:
    assert slug(text) == anchor


def test_repeated_headings_are_numbered_and_code_blocks_ignored() -> None:
    text = "# Page\n## Commands\n```\n## not a heading\n```\n### Commands\n## Commands\n"
    assert [h.anchor for h in headings(text)] == ["page", "commands", "commands-1", "commands-2"]


def test_table_of_contents_nests_levels_two_and_three_without_itself() -> None:
    text = "# Page\n## Contents\n## A\n### A b\n#### deep\n## C\n"
    assert table_of_contents(text) == "- [A](#a)\n  - [A b](#a-b)\n- [C](#c)"
