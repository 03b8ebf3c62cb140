"""Property-based fuzzing: any JSON value anywhere in a job body ends in coded errors.

Valid job bodies (the examples and the test body) are mutated at random places: a value
replaced by any JSON value, a member deleted, an unknown member added. Validation must
answer a report, never raise; every error must be a catalogue error; a body it accepts
must parse, plan and satisfy the JSON Schema.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localbatch.plan import levels
from localbatch.spec.errors import ApiError
from localbatch.spec.load import parse_body
from localbatch.spec.model import parse_job
from localbatch.spec.schema import job_schema
from localbatch.spec.validate import validate
from tests.unit.spec.bodies import job_body

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*/job.json"))
BASES = [job_body()] + [json.loads(path.read_text()) for path in EXAMPLES]
SCHEMA = jsonschema.Draft202012Validator(job_schema())
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", "oss://b/", "oss://b/k", "/abs", "9lives", "DAG", "GBK", "x" * 70])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _containers(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, dict | list):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers(child, found)
    return found


def _mutate(body: dict[str, Any], data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(_containers(body, [])))
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if isinstance(target, list):
        if target and action != "add":
            index = data.draw(st.integers(0, len(target) - 1))
            if action == "delete":
                del target[index]
            else:
                target[index] = data.draw(json_values)
        else:
            target.append(data.draw(json_values))
        return
    if target and action != "add":
        key = data.draw(st.sampled_from(sorted(target)))
        if action == "delete":
            del target[key]
        else:
            target[key] = data.draw(json_values)
    else:
        target[data.draw(st.text(max_size=10))] = data.draw(json_values)


def _check(report_body: Any) -> None:
    report = validate(report_body)
    assert all(isinstance(error, ApiError) for error in report.errors)
    assert all(
        error.http_status in (400, 403) and error.code and error.message for error in report.errors
    )
    assert all(isinstance(warning, str) for warning in report.warnings)
    if report.valid:
        job = parse_job(report_body)
        assert sum(len(level) for level in levels(job)) == len(job.tasks)
        assert SCHEMA.is_valid(report_body), list(SCHEMA.iter_errors(report_body))[:1]


@FUZZ
@given(st.data())
def test_mutated_bodies_end_in_coded_errors(data: st.DataObject) -> None:
    body = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(body, data)
    _check(body)


@FUZZ
@given(json_values)
def test_any_json_value_as_a_body(value: Any) -> None:
    _check(value)


@FUZZ
@given(st.binary(max_size=64) | st.text(max_size=64))
def test_any_bytes_parse_to_a_body_or_a_coded_error(data: bytes | str) -> None:
    try:
        body = parse_body(data)
    except ApiError as error:
        assert error.code in ("InvalidJsonFormat", "InvalidHttpBody")
    else:
        _check(body)
