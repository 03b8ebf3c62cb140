"""Validation beyond the table's rows: strict types, order, clusters, DAG, paths, warnings."""

from __future__ import annotations

from typing import Any

import pytest

from localbatch.spec.validate import has_cycle, validate
from tests.unit.spec.bodies import auto_cluster, job_body, task_body


def codes(body: Any, **quotas: int) -> list[str]:
    return [error.code for error in validate(body, quotas).errors]


def test_base_body_is_valid_without_warnings() -> None:
    report = validate(job_body())
    assert report.valid and report.errors == [] and report.warnings == []


@pytest.mark.parametrize(
    ("value", "valid"),
    [(1, True), (1.0, True), (True, False), (1.5, False), ("1", False), (None, False)],
)
def test_integers_are_json_integers(value: Any, valid: bool) -> None:
    body = job_body()
    body["DAG"]["Tasks"]["taskA"]["InstanceCount"] = value
    assert codes(body) == ([] if valid else ["InvalidInstanceCount"])


@pytest.mark.parametrize("value", [1, "true", 0, None])
def test_booleans_are_json_booleans(value: Any) -> None:
    assert codes(job_body(JobFailOnInstanceFail=value)) == ["InvalidJobFailOnInstanceFail"]


@pytest.mark.parametrize(("value", "valid"), [(0.5, True), (1, True), (True, False), ("1", False)])
def test_numbers_are_json_numbers(value: Any, valid: bool) -> None:
    task = task_body(ClusterId="", AutoCluster=auto_cluster(SpotPriceLimit=value))
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == (
        [] if valid else ["InvalidSpotPriceLimit"]
    )


def test_spot_price_limit_has_at_most_three_decimals() -> None:
    task = task_body(ClusterId="", AutoCluster=auto_cluster(SpotPriceLimit=0.1234))
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == ["InvalidSpotPriceLimit"]


def test_errors_follow_document_order_then_missing_members() -> None:
    body = {"Priority": "high", "Name": 5, "DAG": {"Tasks": {}}}
    assert codes(body) == ["InvalidPriority", "InvalidName", "InvalidTasks", "MissingType"]
    reordered = {"Name": 5, "Priority": "high", "DAG": {"Tasks": {}}}
    assert codes(reordered) == ["InvalidName", "InvalidPriority", "InvalidTasks", "MissingType"]


def test_error_paths_point_into_the_body() -> None:
    body = job_body()
    body["DAG"]["Tasks"]["taskA"]["Parameters"]["Command"]["EnvVars"]["FOO"] = 1
    (error,) = validate(body).errors
    assert error.path == "DAG.Tasks.taskA.Parameters.Command.EnvVars.FOO"
    assert error.code == "InvalidEnvVars.FOO.value"


def test_empty_cluster_id_beside_auto_cluster_is_valid() -> None:
    task = task_body(ClusterId="", AutoCluster=auto_cluster())
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == []


@pytest.mark.parametrize("changes", [{"ClusterId": ""}, {}])
def test_a_task_needs_a_cluster_or_an_auto_cluster(changes: dict[str, Any]) -> None:
    task = task_body(**changes)
    if not changes:
        del task["ClusterId"]
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == ["MissingClusterId"]


def test_cluster_id_and_auto_cluster_together_warn() -> None:
    task = task_body(AutoCluster=auto_cluster())
    report = validate(job_body(DAG={"Tasks": {"a": task}}))
    assert report.valid
    assert report.warnings == [
        "DAG.Tasks.a.AutoCluster: ignored, the task runs on ClusterId cls-local"
    ]


def test_auto_cluster_needs_instance_type_and_image() -> None:
    cluster = auto_cluster(InstanceType="", ImageId="")
    task = task_body(ClusterId="", AutoCluster=cluster)
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == ["MissingInstanceType", "MissingImageId"]
    cluster = auto_cluster(ImageId="", ECSImageId="m-123")
    task = task_body(ClusterId="", AutoCluster=cluster)
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == []


def test_unknown_instance_type_is_a_warning() -> None:
    task = task_body(ClusterId="", AutoCluster=auto_cluster(InstanceType="ecs.huge"))
    report = validate(job_body(DAG={"Tasks": {"a": task}}))
    assert report.valid
    assert "ecs.huge" in report.warnings[0]


@pytest.mark.parametrize(
    ("member", "good", "bad"),
    [
        ("ResourceType", "Spot", "Cheap"),
        ("SpotStrategy", "SpotWithPriceLimit", "spotaspricego"),
    ],
)
def test_documented_values_only(member: str, good: str, bad: str) -> None:
    for value, expected in ((good, []), (bad, [f"Invalid{member}"])):
        task = task_body(ClusterId="", AutoCluster=auto_cluster(**{member: value}))
        assert codes(job_body(DAG={"Tasks": {"a": task}})) == expected


@pytest.mark.parametrize("locale", ["GBK", "UTF-8", "SHIFT-JIS", "KSC5601"])
def test_documented_locales(locale: str) -> None:
    body = job_body()
    body["DAG"]["Tasks"]["taskA"]["Parameters"]["InputMappingConfig"]["Locale"] = locale
    assert codes(body) == []


def test_unknown_fields_are_kept_as_warnings() -> None:
    body = job_body(Color="blue")
    body["DAG"]["Tasks"]["taskA"]["Extra"] = {"a": 1}
    report = validate(body)
    assert report.valid
    assert report.warnings == [
        "DAG.Tasks.taskA.Extra: unknown field, kept but not used",
        "Color: unknown field, kept but not used",
    ]


def test_too_deep_free_form_values_are_refused() -> None:
    deep: Any = "leaf"
    for _ in range(100):
        deep = {"d": deep}
    task = task_body(ClusterId="", AutoCluster=auto_cluster(UserData=deep))
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == ["InvalidUserData.d.value"]
    assert codes(job_body(Unknown=deep)) == ["InvalidUnknown"]


@pytest.mark.parametrize(
    ("member", "value", "valid"),
    [
        ("PackagePath", "", True),
        ("PackagePath", "oss://bkt/w.tar.gz", True),
        ("PackagePath", "oss://bkt/", False),
        ("PackagePath", "oss:///w.tar.gz", False),
    ],
)
def test_package_path_is_an_oss_file(member: str, value: str, valid: bool) -> None:
    body = job_body()
    body["DAG"]["Tasks"]["taskA"]["Parameters"]["Command"][member] = value
    assert codes(body) == ([] if valid else ["InvalidPackagePath"])


@pytest.mark.parametrize(
    ("value", "valid"),
    [("", True), ("oss://bkt/", True), ("oss://bkt/logs/", True), ("oss://bkt/x", False)],
)
def test_redirect_paths_are_oss_folders(value: str, valid: bool) -> None:
    body = job_body()
    body["DAG"]["Tasks"]["taskA"]["Parameters"]["StdoutRedirectPath"] = value
    assert codes(body) == ([] if valid else ["InvalidStdoutRedirectPath"])


@pytest.mark.parametrize("local", ["/home/input/", "C:\\data\\", "D:/data"])
def test_input_destinations_may_be_linux_or_windows_paths(local: str) -> None:
    task = task_body(InputMapping={"oss://bkt/in/": local})
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == []


@pytest.mark.parametrize("output", ["/home/input/", "/home/input", "/home/input//"])
def test_a_path_cannot_be_input_and_output(output: str) -> None:
    task = task_body(OutputMapping={output: "oss://bkt/out/"})
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == [f"InvalidOutputMapping.{output}"]


def dag(dependencies: Any, names: tuple[str, ...] = ("a", "b", "c")) -> dict[str, Any]:
    return job_body(DAG={"Tasks": {n: task_body() for n in names}, "Dependencies": dependencies})


def test_fan_out_fan_in_is_valid() -> None:
    assert codes(dag({"a": ["b", "c"], "b": ["c"]})) == []


@pytest.mark.parametrize(
    "dependencies", [{"a": ["a"]}, {"a": ["b"], "b": ["a"]}, {"a": ["b"], "b": ["c"], "c": ["a"]}]
)
def test_cycles_are_bad_dags(dependencies: Any) -> None:
    (error,) = validate(dag(dependencies)).errors
    assert (error.http_status, error.code, error.message) == (400, "BadDAG", "It is a cyclic dag.")


def test_dependencies_name_known_tasks() -> None:
    assert codes(dag({"x": ["a"], "a": ["y", 3]})) == [
        "InvalidDependencies.a.value",
        "InvalidDependencies.x",
        "InvalidDependencies.a.value",
    ]


def test_has_cycle() -> None:
    assert not has_cycle({"a", "b"}, [("a", "b")])
    assert has_cycle({"a", "b"}, [("a", "b"), ("b", "a")])


def test_task_count_beyond_the_quota_is_403() -> None:
    body = dag({}, names=("a", "b", "c"))
    (error,) = validate(body, {"MaxJobTaskCount": 2}).errors
    assert (error.http_status, error.code) == (403, "QuotaExhausted.MaxJobTaskCount")
    assert error.message == "The MaxJobTaskCount (2) quota is exhausted."
    assert validate(body, {"MaxJobTaskCount": 3}).valid


def test_more_than_sixteen_tasks_within_the_quota_is_valid() -> None:
    body = dag({}, names=tuple(f"t{i}" for i in range(17)))
    assert codes(body) == []


@pytest.mark.parametrize("value", [0, -1])
def test_instance_count_must_be_positive(value: int) -> None:
    body = job_body()
    body["DAG"]["Tasks"]["taskA"]["InstanceCount"] = value
    (error,) = validate(body).errors
    assert error.message == "Specified parameter InstanceCount is not valid."


def test_notification_events_are_documented_ones() -> None:
    topic = {"Name": "t", "Endpoint": "http://e/", "Events": ["OnJobFinished", "OnJobExploded"]}
    report = validate(job_body(Notification={"Topic": topic}))
    assert [(e.code, e.path) for e in report.errors] == [
        ("InvalidEvents", "Notification.Topic.Events[1]")
    ]


def test_mount_entries() -> None:
    entries = [
        {"Source": "oss://bkt/data/", "Destination": "/mnt/data", "WriteSupport": True},
        {"Source": "nas://fs-1/", "Destination": "/mnt/nas"},
        {"Source": "http://x/", "Destination": "mnt"},
        {"Destination": "/mnt/x"},
    ]
    task = task_body(
        Mounts={"Entries": entries, "Locale": "UTF-8", "NAS": {"FileSystem": ["fs-1"]}}
    )
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == [
        "InvalidSource",
        "InvalidDestination",
        "MissingSource",
    ]


@pytest.mark.parametrize("body", [None, 1, "job", [], True])
def test_non_objects_are_invalid_http_bodies(body: Any) -> None:
    assert codes(body) == ["InvalidHttpBody"]


@pytest.mark.parametrize(
    ("where", "value", "code"),
    [
        (("Parameters", "Command", "CommandLine"), "python3\x00 x.py", "InvalidCommandLine"),
        (("Parameters", "Command", "EnvVars"), {"A=B": "1"}, "InvalidEnvVars.A=B"),
        (("Parameters", "Command", "EnvVars"), {"A": "\x00"}, "InvalidEnvVars.A.value"),
        (("OutputMapping",), {"/out\x00/": "oss://bkt/o/"}, "InvalidOutputMapping./out\x00/"),
    ],
)
def test_nul_and_equals_cannot_reach_argv_env_or_paths(
    where: tuple[str, ...], value: Any, code: str
) -> None:
    body = job_body()
    target = body["DAG"]["Tasks"]["taskA"]
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    assert codes(body) == [code]


def test_missing_instance_type_is_reported_once() -> None:
    cluster = auto_cluster()
    del cluster["InstanceType"]
    task = task_body(ClusterId="", AutoCluster=cluster)
    assert codes(job_body(DAG={"Tasks": {"a": task}})) == ["MissingInstanceType"]
