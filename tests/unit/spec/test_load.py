"""Reading bodies: strict JSON, the service's errors, unreadable files told apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localbatch import InvalidJob, JobFileError, load_job
from localbatch.spec.errors import ApiError
from localbatch.spec.load import parse_body, read_body
from tests.unit.spec.bodies import job_body


@pytest.mark.parametrize(
    "text",
    ["", "{", "{'a': 1}", '{"a": NaN}', '{"a": Infinity}', b"\xff\xfe{}", "[" * 100_000],
)
def test_bad_json_is_invalid_json_format(text: str | bytes) -> None:
    with pytest.raises(ApiError) as raised:
        parse_body(text)
    assert raised.value.to_body() == {
        "Code": "InvalidJsonFormat",
        "Message": "The request body has an invalid json format.",
    }
    assert raised.value.http_status == 400


@pytest.mark.parametrize("text", ["[]", "1", '"job"', "null", "true"])
def test_non_object_is_invalid_http_body(text: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_body(text)
    assert raised.value.code == "InvalidHttpBody"


def test_body_keeps_document_order(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text('{"Type": "DAG", "Name": "x"}')
    assert list(read_body(path)) == ["Type", "Name"]


def test_unreadable_file_is_not_an_api_error(tmp_path: Path) -> None:
    with pytest.raises(JobFileError, match="cannot read"):
        read_body(tmp_path / "missing.json")
    with pytest.raises(JobFileError):
        read_body(tmp_path)


def test_load_job_parses_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_body()))
    job = load_job(path)
    assert job.name == "job" and list(job.tasks) == ["taskA"]
    assert job.tasks["taskA"].timeout == 600


def test_load_job_refuses_an_invalid_file_with_its_report(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job_body(Name="9lives", Priority=-1)))
    with pytest.raises(InvalidJob) as raised:
        load_job(path)
    assert [e.code for e in raised.value.report.errors] == ["InvalidName", "InvalidPriority"]
    assert str(raised.value).startswith("400 InvalidName: Specified parameter Name")
