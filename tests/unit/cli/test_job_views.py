"""The job list stays readable on a narrow terminal: columns go whole, never cut to '…'."""

from __future__ import annotations

import io

from rich.console import Console

from localbatch.cli.job_views import print_jobs
from localbatch.states import State
from localbatch.store.records import Counts, JobRecord


def _job(name: str) -> JobRecord:
    return JobRecord(
        id="job-" + "A" * 32,
        name=name,
        owner="",
        priority=7,
        state=State.FINISHED,
        message="",
        creation_time=1_700_000_000.0,
        start_time=None,
        end_time=None,
        task_counts=Counts({State.FINISHED: 2, State.FAILED: 1}),
        instance_counts=Counts({State.FINISHED: 5}),
        runner="",
    )


def _render(width: int) -> list[str]:
    out = io.StringIO()
    print_jobs(Console(file=out, width=width, highlight=False), [_job("logcount")])
    return out.getvalue().splitlines()


def test_wide_terminal_gets_every_column_on_one_line() -> None:
    lines = _render(120)
    assert lines[0].split() == ["JOB", "NAME", "STATE", "PRIO", "TASKS", "INSTANCES", "CREATED"]
    assert lines[1].split()[:6] == ["job-" + "A" * 32, "logcount", "Finished", "7", "2/3", "5/5"]
    assert len(lines) == 2


def test_narrow_terminal_drops_whole_columns_and_says_which() -> None:
    lines = _render(80)
    assert lines[0].split() == ["JOB", "NAME", "STATE", "PRIO", "TASKS", "INSTANCES"]
    assert lines[1].split() == ["job-" + "A" * 32, "logcount", "Finished", "7", "2/3", "5/5"]
    assert lines[2] == "(CREATED left out to fit 80 columns; --json has all)"
    assert all(len(line) <= 80 and "…" not in line for line in lines)


def test_long_paths_in_errors_fold_instead_of_being_cut() -> None:
    from localbatch.cli.job_views import print_task
    from localbatch.store.records import InstanceRecord, TaskRecord

    path = "oss://localbatch-demo/a/rather/long/prefix/of/folders/worker.tar.gz"
    task = TaskRecord("job-1", "split", State.FAILED, None, None, Counts({State.FAILED: 1}))
    instance = InstanceRecord(
        "job-1", "split", 0, State.FAILED, None, None, 1, None, None,
        "PackageError", f"PackagePath {path} does not exist",
    )  # fmt: skip
    out = io.StringIO()
    print_task(Console(file=out, width=80, highlight=False), task, [instance])
    text = out.getvalue()
    assert "…" not in text
    lines = text.splitlines()
    start = lines[1].index("ERROR")
    error_column = "".join(line[start:].strip() for line in lines[2:])
    assert path in error_column


def test_instance_header_counts_retries_in_good_english() -> None:
    from localbatch.cli.job_views import print_instance
    from localbatch.store.records import InstanceRecord

    for count, words in ((1, "1 retry"), (2, "2 retries")):
        record = InstanceRecord(
            "job-1", "split", 0, State.FAILED, None, None, count, None, None, "", ""
        )  # fmt: skip
        out = io.StringIO()
        print_instance(Console(file=out, width=80), record, [])
        assert out.getvalue().splitlines()[0] == f"instance split.0: Failed, {words}"
