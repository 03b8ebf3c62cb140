"""Every row of createjob-api.txt's error table, produced with its exact status, code, message.

The rows are read from the table's own text (a copy of shared/spec/createjob-api.txt beside
this file), so a row the validator cannot produce fails here; nothing is listed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localbatch.spec.errors import ApiError
from localbatch.spec.load import parse_body
from localbatch.spec.validate import check_job_count, validate
from tests.unit.spec.bodies import job_body, task_body

TABLE = Path(__file__).with_name("createjob-api.txt")


@dataclass(frozen=True)
class Row:
    status: int
    code: str
    message: str


def _parse_row(line: str) -> Row:
    """Split one table line: status, code, English message (the Chinese text follows it)."""
    shapes = (
        r"(?P<s>\d{3})(?P<c>Missing(?P<p>\w+?))(?P<m>(?P=p) is mandatory for this action\.)",
        r"(?P<s>\d{3})(?P<c>\S+?)(?P<m>Specified parameter \S+ is not valid\.(?: [^.]*\.)?)",
        r"(?P<s>\d{3})(?P<c>\S+?)(?P<m>The \w+ \(\{value\}\) quota is exhausted\.)",
        r"(?P<s>\d{3})(?P<c>\S+?)(?P<m>Specified idempotent token mismatch\.)",
        r"(?P<s>\d{3})(?P<c>\S+?)(?P<m>The request body has an invalid json format\.)",
    )
    for shape in shapes:
        match = re.match(shape, line)
        if match:
            return Row(int(match["s"]), match["c"], match["m"])
    raise AssertionError(f"a table row of unknown shape: {line!r}")


ROWS = [
    _parse_row(line)
    for line in TABLE.read_text(encoding="utf-8").splitlines()
    if re.match(r"\d{3}\D", line)
]


def test_the_whole_table_was_read() -> None:
    assert len(ROWS) == 81


# --- where each parameter lives in the base body ---

TASK = ("DAG", "Tasks", "taskA")
PLACES: dict[str, tuple[str, ...]] = {
    "Name": (),
    "Description": (),
    "Priority": (),
    "JobFailOnInstanceFail": (),
    "Type": (),
    "DAG": (),
    "Tasks": ("DAG",),
    "Dependencies": ("DAG",),
    "Parameters": TASK,
    "Command": (*TASK, "Parameters"),
    "CommandLine": (*TASK, "Parameters", "Command"),
    "PackagePath": (*TASK, "Parameters", "Command"),
    "EnvVars": (*TASK, "Parameters", "Command"),
    "InputMappingConfig": (*TASK, "Parameters"),
    "Locale": (*TASK, "Parameters", "InputMappingConfig"),
    "Lock": (*TASK, "Parameters", "InputMappingConfig"),
    "StdoutRedirectPath": (*TASK, "Parameters"),
    "StderrRedirectPath": (*TASK, "Parameters"),
    **dict.fromkeys(
        (
            "InputMapping",
            "OutputMapping",
            "LogMapping",
            "Timeout",
            "InstanceCount",
            "MaxRetryCount",
            "ClusterId",
        ),
        TASK,
    ),
}

#: A valid (key, value) number i of each map, to fill maps up to a size.
GOOD_ENTRY: dict[str, Callable[[int], tuple[str, Any]]] = {
    "Tasks": lambda i: (f"task{i}", task_body()),
    "EnvVars": lambda i: (f"VAR{i}", "value"),
    "InputMapping": lambda i: (f"oss://bucket/in{i}/", f"/in{i}/"),
    "OutputMapping": lambda i: (f"/out{i}/", f"oss://bucket/out{i}/"),
    "LogMapping": lambda i: (f"/log{i}.txt", f"oss://bucket/log{i}/"),
    "Dependencies": lambda i: ("taskA", []),
}

WRONG_TYPE = {"string": 123, "integer": True, "boolean": "true", "object": [], "array": {}}

#: A value breaking the rule of each message shape, per parameter.
BAD_OSS = {
    "PackagePath": "oss://bucket/pkg/",  # a folder where a file is expected
    "StdoutRedirectPath": "oss://bucket/logs",  # a file where a folder is expected
    "StderrRedirectPath": "bucket/logs/",  # no oss://
    "InputMapping": "oss://bucket/in",
    "OutputMapping": "http://bucket/out/",
    "LogMapping": "oss://bucket/log",
}

#: Values outside the documented ones, for the rows in the generic shape.
NOT_DOCUMENTED = {"Type": "JSON", "Locale": "KLINGON"}


@dataclass
class Case:
    body: Any
    expected: list[tuple[int, str, str]]
    quotas: dict[str, int] = field(default_factory=dict)


def _container(body: dict[str, Any], param: str) -> dict[str, Any]:
    target = body
    for step in PLACES[param]:
        target = target[step]
    return target


def _set(body: dict[str, Any], param: str, value: Any) -> None:
    """Set `param` (`Name`, `EnvVars.{key}` or `EnvVars.{key}.value`) to a bad value."""
    name, _, rest = param.partition(".")
    container = _container(body, name)
    if rest == "{key}":
        container[name] = {value: GOOD_ENTRY[name](0)[1]}
    elif rest == "{key}.value":
        container[name] = {GOOD_ENTRY[name](0)[0]: value}
    else:
        container[name] = value


def _bad_value(param: str, message: str) -> Any:
    leaf = param.split(".")[0]
    if match := re.search(r"Its type must be (\w+)\.", message):
        return WRONG_TYPE[match[1]]
    if match := re.search(r"Its length must be in \[(\d+), (\d+)\]\.", message):
        return "x" * (int(match[2]) + 1)
    if match := re.search(r"It must be in \[(\d+), (\d+)\]\.", message):
        return int(match[2]) + 1
    if "must not start with [0-9]" in message:
        return "9lives"
    if "OSS path" in message:
        return BAD_OSS[leaf]
    if "Local path" in message:
        return "relative/dir"
    if message.endswith("is not valid."):
        return NOT_DOCUMENTED[leaf]
    raise AssertionError(f"no bad value for {param}: {message}")


def _sized(name: str, count: int) -> dict[str, Any]:
    return dict(GOOD_ENTRY[name](i) for i in range(count))


#: The generic row "Specified parameter {Parameter} is not valid.", on several parameters.
GENERIC: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("Type", lambda b: b.update(Type="JSON")),
    ("Locale", lambda b: _set(b, "Locale", "KLINGON")),
    ("InstanceCount", lambda b: _set(b, "InstanceCount", 0)),
    ("MaxRetryCount", lambda b: _set(b, "MaxRetryCount", -1)),
    ("Timeout", lambda b: _set(b, "Timeout", -5)),
    ("Dependencies.ghost", lambda b: b["DAG"]["Dependencies"].update(ghost=[])),
    ("Dependencies.taskA.value", lambda b: b["DAG"]["Dependencies"].update(taskA=["ghost"])),
    (
        "OutputMapping./home/input",
        lambda b: _set(b, "OutputMapping", {"/home/input": "oss://bucket/out/"}),
    ),
]


def _case(row: Row) -> Case:
    body = job_body()
    message = row.message
    if row.code == "Invalid{Parameter}":
        for _, mutate in GENERIC:
            mutate(body)
        expected = [
            (400, f"Invalid{p}", f"Specified parameter {p} is not valid.") for p, _ in GENERIC
        ]
        return Case(body, expected)
    if row.code.startswith("QuotaExhausted."):
        return _quota_case(row)
    if row.code == "InvalidHttpBody":
        return Case([1, 2], [(row.status, row.code, message)])
    if row.code.startswith("Missing"):
        param = row.code.removeprefix("Missing")
        del _container(body, param)[param]
        return Case(body, [(row.status, row.code, message)])
    param = re.match(r"Specified parameter (\S+) is not valid\.", message)
    assert param is not None, row
    name = param[1]
    if match := re.search(r"Its size must be in \[(\d+), (\d+)\]\.", message):
        low, high = int(match[1]), int(match[2])
        count = low - 1 if low > 0 else high + 1
        _set(body, name, _sized(name, count))
        return Case(body, [(row.status, row.code, message)])
    bad = _bad_value(name, message)
    _set(body, name, bad)
    key = (
        bad if name.endswith("{key}") else GOOD_ENTRY.get(name.split(".")[0], lambda i: ("",))(0)[0]
    )
    fill = {"key": key}
    expected = (row.status, row.code.format(**fill), message.format(**fill))
    return Case(body, [expected])


def _quota_case(row: Row) -> Case:
    name = row.code.removeprefix("QuotaExhausted.")
    expected = [(row.status, row.code, row.message.format(value=2))]
    body = job_body()
    if name == "MaxJobTaskCount":
        body["DAG"]["Tasks"] = _sized("Tasks", 3)
    elif name == "MaxTaskInstanceCount":
        _set(body, "InstanceCount", 3)
    elif name == "MaxInstanceTimeout":
        _set(body, "Timeout", 3)
    else:
        assert name == "MaxJobCount", row
        return Case(None, expected, {name: 2})
    return Case(body, expected, {name: 2})


def _answers(case: Case) -> list[tuple[int, str, str]]:
    errors = validate(case.body, case.quotas).errors
    return [(e.http_status, e.code, e.message) for e in errors]


def _row_id(row: Row) -> str:
    return f"{row.code}:{row.message[:60]}"


@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_row(row: Row) -> None:
    if row.code == "IdempotentTokenMismatch":
        # Answered by the job service for a reused token; the catalogue carries the row.
        error = ApiError.from_catalogue("IdempotentTokenMismatch")
        assert (error.http_status, error.code, error.message) == (400, row.code, row.message)
        return
    if row.code in ("InvalidJsonFormat", "InvalidHttpBody"):
        text = "{" if row.code == "InvalidJsonFormat" else "[1, 2]"
        with pytest.raises(ApiError) as raised:
            parse_body(text)
        assert (raised.value.http_status, raised.value.code) == (row.status, row.code)
        assert raised.value.message == row.message
    case = _case(row) if row.code != "InvalidJsonFormat" else None
    if case is None:
        return
    if case.body is None:
        error = check_job_count(2, case.quotas)
        assert error is not None
        assert [(error.http_status, error.code, error.message)] == case.expected
        assert check_job_count(1, case.quotas) is None
        return
    assert sorted(_answers(case)) == sorted(case.expected)
