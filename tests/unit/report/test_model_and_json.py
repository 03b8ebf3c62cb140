"""The report's model and its JSON: the fields the issue names, the flags, the waits."""

from __future__ import annotations

import json

from localbatch.report.flags import HIGH_MEMORY, OOM, THROTTLED
from localbatch.report.json_view import report_json
from localbatch.report.model import build_report

from .conftest import HOSTILE, RanJob

JOB_KEYS = {"JobId", "Name", "State", "StartTime", "EndTime", "CreationTime", "Dependencies"}
TASK_KEYS = {"Name", "InstanceType", "CpuCores", "MemoryBytes", "State", "Instances"}
INSTANCE_KEYS = {"InstanceId", "State", "Attempts"}
ATTEMPT_KEYS = {
    "Attempt", "State", "ExitCode", "ErrorCode", "StartTime", "EndTime", "CpuSeconds",
    "PeakMemoryBytes", "OomKilled", "Throttled",
}  # fmt: skip


def test_json_has_the_fields_the_issue_names(ran: RanJob) -> None:
    data = report_json(build_report(ran.config, ran.local.store, ran.job_id))
    json.dumps(data)  # JSON-ready
    assert set(data) >= JOB_KEYS and data["JobId"] == ran.job_id and data["State"] == "Failed"
    assert data["Dependencies"] == {"prepare": ["count", "summary"], "count": ["merge"]}
    assert [t["Name"] for t in data["Tasks"]] == ["prepare", "count", "summary", "merge"]
    for task in data["Tasks"]:
        assert set(task) >= TASK_KEYS
        assert task["InstanceType"] == "ecs.sn1.medium"
        assert (task["CpuCores"], task["MemoryBytes"]) == (2, 4 * 2**30)
        for inst in task["Instances"]:
            assert set(inst) >= INSTANCE_KEYS
            for attempt in inst["Attempts"]:
                assert set(attempt) >= ATTEMPT_KEYS
    count = data["Tasks"][1]
    assert len(count["Instances"]) == 3
    retried = count["Instances"][1]["Attempts"]
    assert [(a["Attempt"], a["State"], a["ExitCode"]) for a in retried] == [
        (0, "Failed", 1),
        (1, "Finished", 0),
    ]
    assert retried[1]["PeakMemoryBytes"] == int(3.5 * 2**30) and retried[1]["CpuSeconds"] == 4.0
    assert retried[1]["OomKilled"] is None and retried[1]["Throttled"] is None
    assert retried[1]["ResourceSource"] == "fake"


def test_flags_say_what_the_use_would_mean_in_the_cloud(ran: RanJob) -> None:
    report = build_report(ran.config, ran.local.store, ran.job_id)
    tasks = {t.name: t for t in report.tasks}
    high = tasks["count"].instances[1].attempts[1].flags
    assert [f.kind for f in high] == [HIGH_MEMORY]
    assert "3.5 GiB is 88% of the type's 4.0 GiB" in high[0].message
    (oom,) = tasks["merge"].instances[0].attempts[0].flags
    assert oom.kind == OOM and "in the cloud" in oom.message
    (throttled,) = tasks["summary"].instances[0].attempts[0].flags
    assert throttled.kind == THROTTLED and "2.0 s" in throttled.message
    assert tasks["prepare"].instances[0].attempts[0].flags == ()


def test_a_failed_instance_has_its_last_stderr_lines_and_log_paths(ran: RanJob) -> None:
    report = build_report(ran.config, ran.local.store, ran.job_id)
    merge = next(t for t in report.tasks if t.name == "merge").instances[0]
    assert merge.stderr_tail == ("line one", HOSTILE, "Killed")
    assert merge.stderr_path.endswith("merge.0.stderr")
    finished = next(t for t in report.tasks if t.name == "prepare").instances[0]
    assert finished.stderr_tail == ()


def test_waits_for_upstream_and_for_a_retry_are_known(ran: RanJob) -> None:
    report = build_report(ran.config, ran.local.store, ran.job_id)
    prepare, count = report.tasks[0], report.tasks[1]
    assert prepare.ready_time == report.start_time
    assert count.ready_time == prepare.end_time and count.upstream == ("prepare",)
    first, retry = count.instances[1].attempts
    assert first.waiting_since == count.ready_time
    assert retry.waiting_since == first.end_time
