"""Every example job validates cleanly (no errors, no warnings) and parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from localbatch import load_job
from localbatch.spec.load import read_body
from localbatch.spec.validate import validate

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*/job.json"))


def test_the_examples_of_the_issue_exist() -> None:
    names = {path.parent.name for path in EXAMPLES}
    assert {"demo", "logcount", "sdk", "bcs-sub"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_validates_cleanly(path: Path) -> None:
    report = validate(read_body(path))
    assert report.errors == [] and report.warnings == []
    job = load_job(path)
    assert job.raw == read_body(path)


def test_the_cli_example_uses_an_empty_cluster_id_beside_its_auto_cluster() -> None:
    task = read_body(EXAMPLES[0].parent.parent / "bcs-sub" / "job.json")["DAG"]["Tasks"]["task"]
    assert task["ClusterId"] == "" and task["AutoCluster"]["ImageId"] == "img-ubuntu"
