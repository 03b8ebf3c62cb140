"""The generated JSON Schema agrees with the validator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from localbatch.spec.schema import job_schema
from tests.conformance.test_error_table import ROWS, Row, _case

VALIDATOR = jsonschema.Draft202012Validator(job_schema())
EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*/job.json"))

#: Rows a schema cannot express: quotas, cross-member checks, request-level errors.
NOT_IN_SCHEMA = {
    "IdempotentTokenMismatch",
    "InvalidJsonFormat",
    "Invalid{Parameter}",
    "MissingClusterId",
}


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(job_schema())
    assert job_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_example_validates_against_the_schema(path: Path) -> None:
    VALIDATOR.validate(json.loads(path.read_text()))


SCHEMA_ROWS = [
    row for row in ROWS if row.code not in NOT_IN_SCHEMA and not row.code.startswith("Quota")
]


def test_every_type_row_is_covered() -> None:
    type_rows = [row for row in ROWS if "Its type must be" in row.message]
    assert type_rows and all(row in SCHEMA_ROWS for row in type_rows)


@pytest.mark.parametrize(
    "row", SCHEMA_ROWS, ids=[f"{r.code}:{r.message[-40:]}" for r in SCHEMA_ROWS]
)
def test_the_schema_rejects_what_the_row_rejects(row: Row) -> None:
    case = _case(row)
    assert not VALIDATOR.is_valid(case.body), row


@pytest.mark.parametrize("value", [True, 1.5, "1"])
def test_the_schema_is_strict_about_integers(value: object) -> None:
    body = json.loads(EXAMPLES[0].read_text())
    body["Priority"] = value
    assert not VALIDATOR.is_valid(body)
