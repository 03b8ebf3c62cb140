"""What explains a failed instance: its last attempt's codes, the last lines of its stderr
(of its stdout when stderr is empty), its real log paths; from the store and from the
engine's snapshot alike."""

from __future__ import annotations

from pathlib import Path

from localbatch.application.failure_context import (
    TAIL_LINES,
    failed,
    failure_contexts,
    failure_contexts_of_snapshot,
)
from localbatch.config import Config
from localbatch.engine.records import InstanceSnapshot, JobSnapshot, Metrics, TaskSnapshot
from localbatch.events import AttemptSnapshot, Event, EventDetail
from localbatch.spec.model import parse_job
from localbatch.states import State
from localbatch.storage.log_tail import last_lines
from localbatch.store import Store
from tests.unit.server.server_helpers import make_body


def _logs(config: Config) -> tuple[Path, Path]:
    logs = config.state_dir / "jobs/job-1/logs"
    logs.mkdir(parents=True)
    return logs / "split.0.stdout", logs / "split.0.stderr"


def _record_failure(config: Config, detail: EventDetail, attempts: list[AttemptSnapshot]) -> Store:
    store = Store.open(config.state_dir)
    store.create_job("job-1", parse_job(make_body()), created=1.0)
    store.on_event(Event("OnTaskFailed", "job-1", State.FAILED, 2.0, "Task", "split"))
    for attempt in attempts:
        state = State.FAILED if attempt is attempts[-1] else State.WAITING
        store.on_event(
            Event(
                f"OnInstance{state.value}", "job-1", state, 3.0, "Instance", "split", 0,
                attempt=attempt.attempt, exit_code=attempt.exit_code,
                error_code=attempt.error_code, error_message=attempt.error_message,
                latest_attempt=attempt, detail=detail,
            )
        )  # fmt: skip
    return store


def test_the_last_attempts_stderr_tail_codes_and_paths(config: Config) -> None:
    out, err = _logs(config)
    out.write_text("first attempt out\nsecond out\n")
    err.write_text("first attempt err\n" + "".join(f"line {n}\n" for n in range(30)))
    first_err = len("first attempt err\n")
    detail = EventDetail(
        stdout_path=str(out), stderr_path=str(err), stderr_object="oss://b/logs/stderr.x"
    )
    attempts = [
        AttemptSnapshot(0, State.FAILED, 1.0, 2.0, 1, stdout_offset=0, stderr_offset=0),
        AttemptSnapshot(
            1, State.FAILED, 3.0, 4.0, 2, "", "", stdout_offset=18, stderr_offset=first_err
        ),
    ]
    store = _record_failure(config, detail, attempts)
    try:
        (context,) = failure_contexts(store, config.state_dir, "job-1")
    finally:
        store.close()
    assert (context.task_name, context.instance_id, context.state) == ("split", 0, State.FAILED)
    assert (context.attempt, context.attempts, context.exit_code) == (1, 2, 2)
    assert context.tail_stream == "stderr"
    assert context.tail == tuple(f"line {n}" for n in range(30 - TAIL_LINES, 30))
    assert (context.stdout_path, context.stderr_path) == (out, err)
    assert context.stderr_object == "oss://b/logs/stderr.x"
    assert context.logs_command("job-1") == ["localbatch", "logs", "job-1", "split", "0"]


def test_stdout_when_stderr_is_empty_and_nothing_when_both_are(config: Config) -> None:
    out, err = _logs(config)
    out.write_bytes(b"result: bad \x1b[31minput\xff\n")
    err.write_text("")
    attempt = AttemptSnapshot(0, State.FAILED, 1.0, 2.0, 3, stdout_offset=0, stderr_offset=0)
    instance = InstanceSnapshot(
        0, State.FAILED, 0, 1.0, 2.0, 3, "", "", (attempt,),
        EventDetail(stdout_path=str(out), stderr_path=str(err)),
    )  # fmt: skip
    task = TaskSnapshot("split", State.FAILED, 1.0, 2.0, Metrics(), 0, (instance,), EventDetail())
    snapshot = JobSnapshot(
        "job-1", "j", State.FAILED, 0, 1.0, 2.0, "", Metrics(), Metrics(), (task,), ()
    )
    (context,) = failure_contexts_of_snapshot(snapshot, config.state_dir)
    assert context.tail_stream == "stdout"
    # The program's bytes, decoded: escaping them is the surface's job.
    assert context.tail == ("result: bad \x1b[31minput\\xff",)
    out.write_text("")
    (silent,) = failure_contexts_of_snapshot(snapshot, config.state_dir)
    assert (silent.tail_stream, silent.tail) == ("", ())


def test_an_attempt_that_never_started_has_its_error_and_default_paths(config: Config) -> None:
    attempt = AttemptSnapshot(0, State.FAILED, 1.0, 1.5, None, "PackageError", "no such object")
    instance = InstanceSnapshot(
        0, State.FAILED, 0, 1.0, 1.5, None, "PackageError", "no such object", (attempt,),
        EventDetail(),
    )  # fmt: skip
    stopped = InstanceSnapshot(1, State.STOPPED, 0, None, None, None, "Stopped", "", (), {})
    task = TaskSnapshot(
        "split", State.FAILED, 1.0, 2.0, Metrics(), 0, (instance, stopped), EventDetail()
    )
    snapshot = JobSnapshot(
        "job-1", "j", State.FAILED, 0, 1.0, 2.0, "", Metrics(), Metrics(), (task,), ()
    )
    (context,) = failure_contexts_of_snapshot(snapshot, config.state_dir)
    assert (context.error_code, context.error_message) == ("PackageError", "no such object")
    assert context.tail == ()
    assert context.stderr_path == config.state_dir / "jobs/job-1/logs/split.0.stderr"


def test_which_instances_need_explaining() -> None:
    assert failed(State.FAILED, "")
    assert failed(State.FINISHED, "OutputUploadFailed")
    assert not failed(State.STOPPED, "Stopped")
    assert not failed(State.FINISHED, "")


def test_last_lines_read_a_bounded_window(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 200_000 + b"\n" + b"end\n")
    assert last_lines(path, 20) == ("end",)  # the window starts mid-line: that line is left out
    path.write_bytes(b"a\nb\nc")
    assert last_lines(path, 20, 2) == ("b", "c")
    assert last_lines(path, 1) == ("c",)
    path.write_bytes(b"y" * 3000 + b"\n")
    assert last_lines(path, 20) == ("y" * 1000 + " [cut]",)
    assert last_lines(tmp_path / "missing", 20) == ()
