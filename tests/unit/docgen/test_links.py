"""Every relative link of README.md, docs/ and examples/README.md leads somewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch.docgen.links import broken_links, linked_pages, links

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("page", linked_pages(ROOT), ids=lambda page: page.name)
def test_relative_links_resolve(page: Path) -> None:
    assert broken_links(page) == []


def test_a_missing_file_or_heading_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n## Here\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n"
        "[ok](other.md#here) [ok](#page) [web](https://example.com/x) `[code](nowhere.md)`\n"
        "[gone](missing.md)\n"
        "[no heading](other.md#there)\n"
        "```\n[in a block](missing.md)\n```\n"
        "[no local heading](#nothing)\n"
    )
    assert broken_links(page) == [
        f"{page}:3: missing.md (no such file)",
        f"{page}:4: other.md#there (no heading #there in other.md)",
        f"{page}:8: #nothing (no heading #nothing in page.md)",
    ]


def test_every_docs_page_is_linked_from_the_readme() -> None:
    targets = {target.partition("#")[0] for _, target in links((ROOT / "README.md").read_text())}
    pages = {f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md")}
    assert pages - targets == set()
