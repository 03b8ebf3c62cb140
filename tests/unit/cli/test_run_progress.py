"""The live table and the plain event lines of `localbatch run`, fed events by hand."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from localbatch.application.failure_context import FailureContext
from localbatch.cli.run_output import TerminalScreen
from localbatch.cli.run_progress import LiveProgress, PlainProgress, failure_lines
from localbatch.events import CAPACITY_WAIT_EVENT, Event, InstanceBatch
from localbatch.runtime.image_supply import FOR_DOCKER, ImagePreparation
from localbatch.states import State


def _instance(state: State, instance_id: int | None, retry: int = 0, **kw: object) -> Event:
    return Event(
        name=f"OnInstance{state}",
        job_id="job-1",
        state=state,
        time=0.0,
        category="Instance",
        task_name="count",
        instance_id=instance_id,
        retry_count=retry,
        **kw,  # type: ignore[arg-type]
    )


def _rendered(console: Console, progress: LiveProgress) -> tuple[list[str], list[str]]:
    """The table's lines, and the cells of the row of the task "count"."""
    console.print(progress.render())
    lines = console.export_text().splitlines()
    row = next(line for line in lines if "count" in line)
    return lines, [c.strip() for c in row.strip("│ ").split("│")]


def test_live_table_counts_instances_and_retries() -> None:
    console = Console(file=io.StringIO(), width=120, record=True)
    progress = LiveProgress(console, {"count": 3})
    progress(_instance(State.RUNNING, 0))
    progress(_instance(State.RUNNING, 1))
    progress(_instance(State.WAITING, 1, retry=1, exit_code=1))
    progress(_instance(State.FINISHED, 0))
    console.print(progress.render())
    row = next(line for line in console.export_text().splitlines() if "count" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    # task, state, wait, run, done, failed, stopped, retries, elapsed
    assert cells[2:8] == ["2", "0", "1", "0", "0", "1"]


def test_live_table_counts_stopped_instances_and_fits_80_columns() -> None:
    console = Console(file=io.StringIO(), width=200, record=True)
    progress = LiveProgress(console, {"count": 3})
    progress(_instance(State.RUNNING, 0))
    progress(_instance(State.STOPPED, 0))
    progress(_instance(State.STOPPED, 1))
    lines, cells = _rendered(console, progress)
    assert cells[2:7] == ["1", "0", "0", "0", "2"]  # every instance counted somewhere
    assert max(len(line) for line in lines) <= 80


def test_plain_lines_skip_first_waits_and_show_retries_and_errors() -> None:
    out = io.StringIO()
    plain = PlainProgress(out)
    plain(_instance(State.WAITING, 0))
    plain(_instance(State.WAITING, 0, retry=1, error_code="Timeout"))
    plain(_instance(State.FAILED, 0, exit_code=None, error_code="Timeout", error_message="slow"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("instance count.0 Waiting (retry 1 after Timeout)")
    assert lines[1].endswith("instance count.0 Failed Timeout: slow")


def test_plain_lines_show_exit_codes_only_when_a_program_ran() -> None:
    out = io.StringIO()
    plain = PlainProgress(out)
    plain(_instance(State.WAITING, 0, retry=1, exit_code=None))
    plain(_instance(State.STOPPED, 1, exit_code=None))
    plain(_instance(State.FAILED, 2, exit_code=3))
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "instance count.0 Waiting (retry 1 after an error)",
        "instance count.1 Stopped",
        "instance count.2 Failed exit 3",
    ]


def test_live_table_shows_tasks_left_out_by_only_as_not_run() -> None:
    console = Console(file=io.StringIO(), width=200, record=True)
    progress = LiveProgress(console, {"count": 2, "merge": 1}, not_run={"count"})
    progress(_instance(State.STOPPED, 0))
    progress(_instance(State.STOPPED, 1))
    lines, cells = _rendered(console, progress)
    assert cells[1] == "not run" and set(cells[2:]) == {"-"}
    assert "not run: left out by --only" in lines[-1]
    assert max(len(line) for line in lines) <= 80


def test_plain_lines_say_a_task_left_out_by_only_was_not_run() -> None:
    out = io.StringIO()
    plain = PlainProgress(out, not_run={"count"})
    plain(_instance(State.STOPPED, 0))
    plain(
        Event(
            name="OnTaskStopped",
            job_id="job-1",
            state=State.STOPPED,
            time=0.0,
            category="Task",
            task_name="count",
        )
    )
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == ["task count not run (--only)"]


def _held(instance_id: int, reason: str = "needs 2 cores, 2 of this host's 2 in use") -> Event:
    return Event(
        name=CAPACITY_WAIT_EVENT,
        job_id="job-1",
        state=State.WAITING,
        time=0.0,
        category="Instance",
        task_name="count",
        instance_id=instance_id,
        detail={"capacity_wait": {"since": 0.0, "reason": reason}},
    )


def test_plain_lines_say_an_instance_waits_for_capacity_and_why() -> None:
    out = io.StringIO()
    plain = PlainProgress(out)
    plain(_held(2))
    (line,) = out.getvalue().splitlines()
    assert line.endswith(
        "instance count.2 waiting for capacity (needs 2 cores, 2 of this host's 2 in use)"
    )


def test_live_table_says_how_many_run_at_once_and_wait_for_capacity() -> None:
    console = Console(file=io.StringIO(), width=200, record=True)
    progress = LiveProgress(
        console, {"count": 3}, concurrency={"count": "1 at a time: ecs.sn1.medium needs 2 cores"}
    )
    progress(_instance(State.RUNNING, 0))
    progress(_held(1))
    progress(_held(2))
    console.print(progress.render())
    text = console.export_text()
    assert "count: 1 at a time: ecs.sn1.medium needs 2 cores; 2 waiting for capacity" in text
    progress(_instance(State.RUNNING, 1))  # launched: no longer waiting for capacity
    console.print(progress.render())
    assert text.count("1 waiting") == 0
    assert "; 1 waiting for capacity" in console.export_text()


def test_failure_lines_explain_an_instance_with_its_escaped_output(tmp_path: Path) -> None:
    failure = FailureContext(
        task_name="count",
        instance_id=1,
        state=State.FAILED,
        attempt=1,
        attempts=2,
        error_code="",
        error_message="",
        exit_code=1,
        tail_stream="stderr",
        tail=("Traceback (most recent call last):", "\x1b[2JValueError: bad"),
        stdout_path=tmp_path / "count.1.stdout",
        stderr_path=tmp_path / "count.1.stderr",
        stdout_object="",
        stderr_object="oss://b/logs/stderr.job-1.count.1",
        storage_error="",
    )
    lines = failure_lines(failure, lambda task, n: f"localbatch logs job-1 {task} {n}")
    assert lines == [
        "count.1 Failed after 1 retry: exit code 1",
        "  the last 2 lines of its stderr:",
        "  err| Traceback (most recent call last):",
        "  err| ValueError: bad",
        f"  stdout: {tmp_path / 'count.1.stdout'}",
        f"  stderr: {tmp_path / 'count.1.stderr'}",
        "  stderr on OSS: oss://b/logs/stderr.job-1.count.1",
        "  all of it: localbatch logs job-1 count 1 (and with --stderr, its stderr)",
    ]


def test_instances_waiting_for_a_node_show_the_clusters_reason() -> None:
    reason = "no suitable node (insufficient resources on 2 nodes)"
    out = io.StringIO()
    plain = PlainProgress(out)
    plain(_held(0, reason))
    assert out.getvalue().split(" ", 1)[1] == f"instance count.0 waiting for capacity ({reason})\n"
    console = Console(file=io.StringIO(), width=200, record=True)
    progress = LiveProgress(
        console,
        {"count": 5},
        concurrency={"count": "3 at a time: ecs.sn1.medium needs 2 cores, the cluster has 6"},
        capacity="cluster of 2 nodes; 6 cores",
    )
    progress(_instance(State.RUNNING, 4))
    for instance_id in range(4):
        progress(_held(instance_id, reason))
    progress(_instance(State.RUNNING, 0, detail={"capacity_wait": None}))
    console.print(progress.render())
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert "capacity: cluster of 2 nodes; 6 cores" in lines
    assert (
        "count: 3 at a time: ecs.sn1.medium needs 2 cores, the cluster has 6; "
        f"3 waiting for capacity ({reason})"
    ) in lines


def _batch(state: State, count: int, exempt: frozenset[int] = frozenset()) -> Event:
    return _instance(state, None, batch=InstanceBatch(count, exempt))


def test_instances_stopped_together_are_counted_and_said_once() -> None:
    console = Console(file=io.StringIO(), width=200, record=True)
    progress = LiveProgress(console, {"count": 5})
    out = io.StringIO()
    plain = PlainProgress(out)
    for event in (
        _batch(State.WAITING, 5),
        _instance(State.RUNNING, 0),
        _instance(State.STOPPED, 0),
        _batch(State.STOPPED, 5, frozenset({0})),
    ):
        progress(event)
        plain(event)
    _, cells = _rendered(console, progress)
    assert cells[2:7] == ["0", "0", "0", "0", "5"]
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "instance count.0 Running",
        "instance count.0 Stopped",
        "instances count.* Stopped: 4 (never started)",
    ]


BEGUN = ImagePreparation("team/x:1", "the Docker engine")
ENDED = ImagePreparation("team/x:1", "the Docker engine", seconds=18.25)


def test_plain_lines_say_an_image_is_prepared_for_the_sandbox_on_first_use() -> None:
    out = io.StringIO()
    plain = PlainProgress(out)
    plain.preparation(BEGUN)
    plain.preparation(ENDED)
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "preparing image team/x:1 for the sandbox (first use: unpacking it from the Docker "
        "engine)…",
        "image team/x:1 ready for the sandbox (prepared in 18.2s)",
    ]


def test_live_display_says_an_image_is_prepared_and_for_how_long_meanwhile() -> None:
    console = Console(file=io.StringIO(), width=200, record=True)
    progress = LiveProgress(console, {"count": 1})
    scrolled = io.BytesIO()
    progress.screen = TerminalScreen(console, progress.render, stream=scrolled)
    progress.preparation(BEGUN)
    console.print(progress.render())
    assert "preparing image team/x:1 for the sandbox (first use): 0s" in console.export_text()
    progress.preparation(ENDED)
    console.print(progress.render())
    assert "preparing image" not in console.export_text()  # under the table no longer
    assert scrolled.getvalue().decode().splitlines() == [BEGUN.line(), ENDED.line()]


def test_an_image_brought_into_the_docker_engine_is_shown_as_such() -> None:
    pulling = ImagePreparation(
        "localhost:5000/team/x:1", "the registry at oss://b/r/", target=FOR_DOCKER, how="pulling"
    )
    out = io.StringIO()
    PlainProgress(out).preparation(pulling)
    assert out.getvalue().split(" ", 1)[1] == (
        "preparing image localhost:5000/team/x:1 for the Docker engine (first use: pulling it "
        "from the registry at oss://b/r/)…\n"
    )
    console = Console(file=io.StringIO(), width=200, record=True)
    progress = LiveProgress(console, {"count": 1})
    progress.screen = TerminalScreen(console, progress.render, stream=io.BytesIO())
    progress.preparation(pulling)
    console.print(progress.render())
    shown = "preparing image localhost:5000/team/x:1 for the Docker engine (first use): 0s"
    assert shown in console.export_text()
