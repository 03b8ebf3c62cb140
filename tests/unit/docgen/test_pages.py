"""The generated parts of the docs match the code, and README.md stays a front page."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch.docgen import catalogues, pages
from localbatch.docgen.markers import MarkerError
from localbatch.spec.instance_types import INSTANCE_TYPES, InstanceType

ROOT = Path(__file__).resolve().parents[3]


def test_the_docs_are_in_sync_with_the_code() -> None:
    assert pages.stale(ROOT) == [], "run `make docs` and commit the result"


def test_a_change_in_the_code_makes_its_page_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(INSTANCE_TYPES, "ecs.test.huge", InstanceType("ecs.test.huge", 64, 256))
    assert pages.stale(ROOT) == [ROOT / "docs/writing-jobs.md"]


def test_every_block_the_pages_use_is_rendered() -> None:
    for page in pages.pages(ROOT):
        pages.render(page.read_text())  # raises on an unknown block
    with pytest.raises(MarkerError, match="unknown generated block"):
        pages.render("<!-- begin generated: nope -->\n<!-- end generated: nope -->\n")


def test_the_instance_type_table_lists_every_type() -> None:
    table = catalogues.instance_types()
    assert all(
        f"| `{name}` | {t.cpu_cores} | {t.memory_gib} GiB |" in table
        for name, t in INSTANCE_TYPES.items()
    )


def test_the_command_table_has_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("validate", "run", "serve", "oss cp", "images build", "priority"):
        assert f"| `localbatch {command}" in readme


def test_the_readme_is_under_20_kb() -> None:
    assert len((ROOT / "README.md").read_bytes()) < 20_000
