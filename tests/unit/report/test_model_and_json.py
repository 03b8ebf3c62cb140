"""The report's model and its JSON: the fields the issue names, the flags, the waits."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from localbatch.report.flags import HIGH_MEMORY, OOM, THROTTLED
from localbatch.report.html import render_html
from localbatch.report.json_view import report_json
from localbatch.report.model import build_report

from .conftest import HOSTILE, RanJob, job_body, run_job

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


def test_waits_for_upstream_and_for_capacity_preparation_and_run_are_told_apart(
    tmp_path: Path,
) -> None:
    """One instance at a time: what waited for capacity says why, from the engine's record;
    each attempt's phases follow one another up to its end."""
    for ran in run_job(tmp_path, job_body(2), max_parallel=1):
        data = report_json(build_report(ran.config, ran.local.store, ran.job_id))
        attempts = [
            (task["Name"], attempt)
            for task in data["Tasks"]
            for inst in task["Instances"]
            for attempt in inst["Attempts"]
        ]
        held = []
        for task, attempt in attempts:
            phases = attempt["Phases"]
            assert [p["Phase"] for p in phases][-2:] == ["Preparing", "Running"]
            for before, after in itertools.pairwise(phases):
                assert before["EndTime"] == after["StartTime"]
            assert phases[-1]["EndTime"] == attempt["EndTime"]
            assert phases[-2]["StartTime"] == attempt["LaunchTime"]
            upstream = [p for p in phases if p["Phase"] == "WaitingForUpstream"]
            assert [p["Reason"] for p in upstream] == (
                [] if task == "prepare" or attempt["Attempt"] else [task_upstream(task)]
            )
            if attempt["CapacityWaitStart"]:
                (wait,) = [p for p in phases if p["Phase"] == "WaitingForCapacity"]
                assert wait["StartTime"] == attempt["CapacityWaitStart"]
                assert wait["Reason"] == attempt["CapacityWaitReason"]
                held.append(wait["Reason"])
        # count.0, count.1 and summary are ready together: two of them wait, as does merge
        # (summary or count's retry still runs when count ends).
        assert len(held) >= 2 and all("--max-parallel 1" in why for why in held)
        page = render_html(build_report(ran.config, ran.local.store, ran.job_id))
        assert "waiting for capacity: " in page and "--max-parallel 1" in page
        assert "(capacity, preparation)" not in page


def task_upstream(task: str) -> str:
    return "count" if task == "merge" else "prepare"
