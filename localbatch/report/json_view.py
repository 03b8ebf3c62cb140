"""The report as JSON for scripts, named in the API's PascalCase (docs/reports.md has the
schema). Times are the API's UTC strings ("" when not reached); figures not measured are
null.
"""

from __future__ import annotations

from typing import Any

from localbatch.report.model import AttemptView, InstanceView, JobReport, TaskView
from localbatch.report.phases import Span
from localbatch.timefmt import api_time
from localbatch.usage import ResourceUsage

NOT_RECORDED = "not recorded: the attempt has not ended, or was recorded by an earlier localbatch"


def usage_json(usage: ResourceUsage | None) -> dict[str, Any]:
    """An attempt's resource use (`status --json` lists attempts with it too)."""
    if usage is None:
        usage = ResourceUsage(note=NOT_RECORDED)
    return {
        "CpuSeconds": usage.cpu_seconds,
        "PeakMemoryBytes": usage.peak_memory_bytes,
        "OomKilled": usage.oom_killed,
        "Throttled": usage.throttled,
        "ThrottledSeconds": usage.throttled_seconds,
        "MemoryLimitBytes": usage.memory_limit_bytes,
        "CpuLimitCores": usage.cpu_limit_cores,
        "ResourceSource": usage.source,
        "ResourceNote": usage.note,
    }


def _span(span: Span, now: float) -> dict[str, Any]:
    return {
        "Phase": span.phase.value,
        "StartTime": api_time(span.start),
        "EndTime": api_time(span.end),
        "Seconds": round(span.seconds(now), 3),
        "Reason": span.reason,
    }


def _attempt(attempt: AttemptView, now: float) -> dict[str, Any]:
    return {
        "Run": attempt.run,
        "Attempt": attempt.attempt,
        "State": attempt.state.value,
        "ExitCode": attempt.exit_code,
        "ErrorCode": attempt.error_code,
        "ErrorMessage": attempt.error_message,
        "StartTime": api_time(attempt.start_time),
        "EndTime": api_time(attempt.end_time),
        "LaunchTime": api_time(attempt.launch_time),
        "CapacityWaitStart": api_time(attempt.capacity_wait_start),
        "CapacityWaitReason": attempt.capacity_wait_reason,
        "ProgramStarted": attempt.program_started,
        "Phases": [_span(span, now) for span in attempt.spans],
        **usage_json(attempt.usage),
        "Flags": [{"Kind": f.kind, "Message": f.message} for f in attempt.flags],
    }


def _instance(inst: InstanceView, now: float) -> dict[str, Any]:
    return {
        "InstanceId": inst.instance_id,
        "State": inst.state.value,
        "RetryCount": inst.retry_count,
        "ExitCode": inst.exit_code,
        "ErrorCode": inst.error_code,
        "ErrorMessage": inst.error_message,
        "StartTime": api_time(inst.start_time),
        "EndTime": api_time(inst.end_time),
        "StdoutPath": inst.stdout_path,
        "StderrPath": inst.stderr_path,
        "StdoutObject": inst.stdout_object,
        "StderrObject": inst.stderr_object,
        "StderrTail": list(inst.stderr_tail),
        "Attempts": [_attempt(a, now) for a in inst.attempts],
    }


def _task(task: TaskView, now: float) -> dict[str, Any]:
    return {
        "Name": task.name,
        "InstanceType": task.instance_type,
        "CpuCores": task.cpu_cores,
        "MemoryBytes": task.memory_bytes,
        "State": task.state.value,
        "StartTime": api_time(task.start_time),
        "EndTime": api_time(task.end_time),
        "Level": task.level,
        "Upstream": list(task.upstream),
        "InstanceCount": task.instance_count,
        "MaxRetryCount": task.max_retry_count,
        "Instances": [_instance(i, now) for i in task.instances],
    }


def report_json(report: JobReport) -> dict[str, Any]:
    """The whole report as one JSON object."""
    return {
        "JobId": report.job_id,
        "Name": report.name,
        "Description": report.description,
        "State": report.state.value,
        "Message": report.message,
        "CreationTime": api_time(report.creation_time),
        "StartTime": api_time(report.start_time),
        "EndTime": api_time(report.end_time),
        "GeneratedTime": api_time(report.generated_time),
        "Runtimes": list(report.runtimes),
        "Dependencies": {up: list(downs) for up, downs in report.dependencies.items()},
        "Tasks": [_task(t, report.generated_time) for t in report.tasks],
    }
