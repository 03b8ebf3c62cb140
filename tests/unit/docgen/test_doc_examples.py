"""Job bodies shown in the documentation are jobs localbatch accepts as they are."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import localbatch
from localbatch.docgen.links import linked_pages

ROOT = Path(__file__).resolve().parents[3]
_JSON_BLOCK = re.compile(r"^```json\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _job_bodies() -> list[tuple[str, str]]:
    found = []
    for page in linked_pages(ROOT):
        for number, block in enumerate(_JSON_BLOCK.findall(page.read_text())):
            if '"DAG"' in block:
                found.append((f"{page.name}[{number}]", block))
    return found


def test_the_docs_show_a_job() -> None:
    assert _job_bodies()


@pytest.mark.parametrize(("where", "block"), _job_bodies(), ids=[w for w, _ in _job_bodies()])
def test_shown_jobs_are_valid(where: str, block: str) -> None:
    report = localbatch.validate(json.loads(block))
    assert report.valid, report.errors
    assert report.warnings == []
