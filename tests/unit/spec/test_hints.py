"""Hints: what the service's message leaves out, beside its exact Code and Message."""

from __future__ import annotations

from typing import Any

import pytest

from localbatch.spec.errors import CATALOGUE, ApiError
from localbatch.spec.hints import find_cycle
from localbatch.spec.load import parse_body
from localbatch.spec.validate import validate
from tests.unit.spec.bodies import auto_cluster, job_body, task_body


def _first(body: Any, **quotas: int) -> tuple[str, str, str]:
    error = validate(body, quotas).errors[0]
    return error.code, error.message, error.hint


def _dag(tasks: dict[str, Any], dependencies: dict[str, Any]) -> dict[str, Any]:
    return job_body(DAG={"Tasks": tasks, "Dependencies": dependencies})


def test_invalid_dependencies_name_the_missing_task_and_the_closest() -> None:
    body = _dag({"split": task_body(), "count": task_body()}, {"spilt": ["count"]})
    assert _first(body) == (
        "InvalidDependencies.spilt",
        "Specified parameter Dependencies.spilt is not valid.",
        'no task is named "spilt"; did you mean split? (tasks: split, count)',
    )
    body = _dag({"split": task_body(), "count": task_body()}, {"split": ["cuont"]})
    assert _first(body)[0::2] == (
        "InvalidDependencies.split.value",
        'no task is named "cuont"; did you mean count? (tasks: split, count)',
    )


def test_bad_dag_names_the_cycle() -> None:
    tasks = {name: task_body() for name in "abcd"}
    body = _dag(tasks, {"a": ["b"], "b": ["c"], "c": ["d", "b"]})
    assert _first(body) == ("BadDAG", "It is a cyclic dag.", "cycle: b -> c -> b")


def test_find_cycle_returns_one_closed_path() -> None:
    assert find_cycle(["a", "b", "c"], [("a", "b"), ("b", "c")]) is None
    assert find_cycle(["a"], [("a", "a")]) == ["a", "a"]
    assert find_cycle(["x", "a", "b", "c"], [("x", "a"), ("a", "b"), ("b", "c"), ("c", "a")]) == [
        "a",
        "b",
        "c",
        "a",
    ]


@pytest.mark.parametrize(
    ("member", "value", "hint"),
    [
        ("InstanceCount", 0, "got 0; allowed: 1 to 10000 (MaxTaskInstanceCount)"),
        ("Timeout", 0, "got 0; allowed: 1 to 604800 (MaxInstanceTimeout)"),
        ("MaxRetryCount", -1, "got -1; allowed: at least 0"),
        ("InstanceCount", "3", 'expected an integer, got a string "3"'),
        (
            "InstanceCount",
            20000,
            "got 20000; the limit is 10000, set by [quotas] MaxTaskInstanceCount in the config "
            "or $LOCALBATCH_MAX_TASK_INSTANCE_COUNT",
        ),
    ],
)
def test_counts_and_timeouts_say_the_allowed_range(member: str, value: object, hint: str) -> None:
    body = _dag({"a": task_body(**{member: value})}, {})
    assert _first(body)[2] == hint


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        ({"Name": "9lives"}, '"9lives" starts with a digit'),
        ({"Name": "my job!"}, "\"my job!\" contains ' ', '!'"),
        ({"Name": ""}, "0 characters"),
        ({"Priority": 1001}, "got 1001"),
        ({"Type": "Dag"}, 'got "Dag"; did you mean DAG?; allowed: DAG'),
        ({"JobFailOnInstanceFail": "yes"}, 'expected a boolean, got a string "yes"'),
    ],
)
def test_job_members(changes: dict[str, Any], hint: str) -> None:
    assert _first(job_body(**changes))[2] == hint


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("oss://Bad_Bucket/w.tar.gz", 'bucket "Bad_Bucket" is not a valid OSS bucket name'),
        ("oss://bucket/pkg/", '"oss://bucket/pkg/" is a folder; a file is oss://bucket/key'),
        ("s3://bucket/w.tar.gz", '"s3://bucket/w.tar.gz" must start with oss://'),
        ("oss:///w.tar.gz", '"oss:///w.tar.gz" names no bucket'),
    ],
)
def test_oss_paths_say_what_is_wrong(path: str, hint: str) -> None:
    task = task_body()
    task["Parameters"]["Command"]["PackagePath"] = path
    code, message, got = _first(_dag({"a": task}, {}))
    assert code == "InvalidPackagePath" and message.endswith("if it is a file.")
    assert got.startswith(hint)


def test_a_folder_without_its_slash() -> None:
    task = task_body(OutputMapping={"/home/output/": "oss://bucket/out"})
    assert _first(_dag({"a": task}, {}))[2] == (
        "\"oss://bucket/out\" is a file; a folder ends with '/' (oss://bucket/dir/)"
    )


def test_other_hints() -> None:
    task = task_body(ClusterId="", AutoCluster=auto_cluster(ImageId="", ResourceType="Spto"))
    errors = validate(_dag({"a": task}, {})).errors
    assert [(e.code, e.hint) for e in errors] == [
        ("InvalidResourceType", 'got "Spto"; did you mean Spot?; allowed: OnDemand, Spot'),
        ("MissingImageId", "an AutoCluster needs ImageId (or ECSImageId)"),
    ]
    missing = task_body(InstanceCont=2)
    del missing["InstanceCount"]
    assert _first(_dag({"a": missing}, {}))[0::2] == (
        "MissingInstanceCount",
        '"InstanceCont" is present: a misspelling of InstanceCount?',
    )
    env = task_body()
    env["Parameters"]["Command"]["EnvVars"] = {"A=B": "1"}
    assert _first(_dag({"a": env}, {}))[2] == "contains '='"
    assert validate([1]).errors[0].hint == "the body is an array, not an object"


def test_unknown_fields_suggest_the_known_one() -> None:
    report = validate(job_body(JobFailOnInstanceFial=True))
    assert report.valid
    assert report.warnings == [
        "JobFailOnInstanceFial: unknown field, kept but not used; "
        "did you mean JobFailOnInstanceFail?"
    ]


def test_strict_makes_unknown_fields_errors() -> None:
    body = job_body(JobFailOnInstanceFial=True, Whatever=1)
    report = validate(body, strict=True)
    assert report.warnings == []
    assert [(e.code, e.message, e.path, e.hint) for e in report.errors] == [
        (
            "UnknownField",
            "JobFailOnInstanceFial is not a known field.",
            "JobFailOnInstanceFial",
            "did you mean JobFailOnInstanceFail?",
        ),
        ("UnknownField", "Whatever is not a known field.", "Whatever", ""),
    ]


def test_unknown_instance_types_get_the_nearest_names() -> None:
    task = task_body(ClusterId="", AutoCluster=auto_cluster(InstanceType="ecs.sn1.medum"))
    (warning,) = validate(_dag({"a": task}, {})).warnings
    assert "ecs.sn1.medum is not in localbatch's instance type table (nearest: ecs.sn1.medium" in (
        warning
    )


def test_hints_never_change_the_service_words() -> None:
    """Every hinted error still has a catalogue row's code shape and message."""
    body = _dag({"a": task_body(InstanceCount=0)}, {"b": ["a"]})
    for error in validate(body).errors:
        assert error.hint
        assert error.to_body() == {"Code": error.code, "Message": error.message}
        assert any(row.http_status == error.http_status for row in CATALOGUE.values())


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        ('{"Name": "x",\n  "Type" "DAG"}', "line 2 column 10: Expecting ':' delimiter"),
        (b'{"Name": "\xff"}', "byte 10: not UTF-8"),
        ("NaN", "NaN is not JSON"),
    ],
)
def test_json_errors_say_where(data: str | bytes, hint: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_body(data)
    assert (raised.value.code, raised.value.hint) == ("InvalidJsonFormat", hint)
