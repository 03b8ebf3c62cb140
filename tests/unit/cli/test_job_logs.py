"""`localbatch logs`' view of an instance's log file: attempts told apart by the offsets the
store recorded, each between a line naming it and a line saying how it ended."""

from __future__ import annotations

import io
from pathlib import Path

from localbatch.cli.job_logs import EARLIER_OUTPUT, AttemptChoice, LogPrinter, log_parts
from localbatch.states import State
from localbatch.store.records import AttemptRecord


def _attempt(
    attempt: int,
    offset: int | None,
    state: State = State.FAILED,
    exit_code: int | None = 1,
    error_code: str = "",
    run: int = 0,
) -> AttemptRecord:
    return AttemptRecord(
        attempt, state, 1.0, None if state == State.RUNNING else 2.0, exit_code, error_code,
        stdout_offset=offset, stderr_offset=0, job_id="job-1", task_name="a", instance_id=0,
        run=run,
    )  # fmt: skip


def _printed(path: Path, attempts: list[AttemptRecord], **kw: object) -> list[str]:
    out = io.StringIO()
    LogPrinter(out).drain("a.0", path, attempts, "stdout", **kw)  # type: ignore[arg-type]
    return out.getvalue().splitlines()


def test_each_attempt_between_its_name_and_how_it_ended(tmp_path: Path) -> None:
    log = tmp_path / "a.0.stdout"
    log.write_bytes(b"first try\nno newline at the end")
    attempts = [
        _attempt(0, 0, error_code="Timeout", exit_code=143),
        _attempt(1, None, exit_code=None, error_code="PackageError"),  # never started
        _attempt(2, 10, State.FINISHED, exit_code=0),
    ]
    assert _printed(log, attempts) == [
        "a.0 ---- attempt 0 ----",
        "a.0 | first try",
        "a.0 ---- attempt 0 ended Failed (Timeout, exit code 143) ----",
        "a.0 ---- attempt 1 ----",
        "a.0 ---- attempt 1 ended Failed (PackageError) ----",
        "a.0 ---- attempt 2 ----",
        "a.0 | no newline at the end",
        "a.0 ---- attempt 2 ended Finished (exit code 0) ----",
    ]


def test_one_attempt_alone_of_the_latest_run_or_of_the_run_asked(tmp_path: Path) -> None:
    log = tmp_path / "a.0.stdout"
    log.write_bytes(b"run0 a0\nrun0 a1\nrun1 a0\n")
    attempts = [_attempt(0, 0), _attempt(1, 8), _attempt(0, 16, State.FINISHED, 0, run=1)]
    assert _printed(log, attempts, choice=AttemptChoice(0)) == [
        "a.0 ---- run 1 attempt 0 ----",
        "a.0 | run1 a0",
        "a.0 ---- run 1 attempt 0 ended Finished (exit code 0) ----",
    ]
    assert _printed(log, attempts, choice=AttemptChoice(0, run=0))[1:2] == ["a.0 | run0 a0"]
    assert _printed(log, attempts, choice=AttemptChoice(1))[1:2] == ["a.0 | run0 a1"]
    assert _printed(log, attempts, choice=AttemptChoice(5)) == []


def test_following_a_running_attempt_then_its_retry(tmp_path: Path) -> None:
    log = tmp_path / "a.0.stdout"
    out = io.StringIO()
    printer = LogPrinter(out)
    log.write_bytes(b"one\ntw")
    running = [_attempt(0, 0, State.RUNNING, None)]
    printer.drain("a.0", log, running, "stdout")
    assert out.getvalue().splitlines() == ["a.0 ---- attempt 0 ----", "a.0 | one"]
    with log.open("ab") as more:
        more.write(b"o\nthree")  # attempt 0 ends without a newline; attempt 1 starts
    offset = log.stat().st_size
    with log.open("ab") as more:
        more.write(b"retry\n")
    printer.drain("a.0", log, [_attempt(0, 0), _attempt(1, offset, State.RUNNING, None)], "stdout")
    assert out.getvalue().splitlines()[2:] == [
        "a.0 | two",
        "a.0 | three",
        "a.0 ---- attempt 0 ended Failed (exit code 1) ----",
        "a.0 ---- attempt 1 ----",
        "a.0 | retry",
    ]
    assert printer.printed == 4


def test_output_from_before_offsets_were_recorded_comes_first(tmp_path: Path) -> None:
    log = tmp_path / "a.0.stdout"
    log.write_bytes(b"old\nnew\n")
    attempts = [_attempt(0, None), _attempt(0, 4, State.FINISHED, 0, run=1)]
    assert _printed(log, attempts) == [
        f"a.0 ---- {EARLIER_OUTPUT} ----",
        "a.0 | old",
        "a.0 ---- run 0 attempt 0 ----",
        "a.0 ---- run 0 attempt 0 ended Failed (exit code 1) ----",
        "a.0 ---- run 1 attempt 0 ----",
        "a.0 | new",
        "a.0 ---- run 1 attempt 0 ended Finished (exit code 0) ----",
    ]


def test_no_attempts_recorded_prints_the_file_as_it_is(tmp_path: Path) -> None:
    log = tmp_path / "a.0.stdout"
    log.write_bytes(b"line\n\xff\xfebinary")
    assert _printed(log, [], final=True) == ["a.0 | line", "a.0 | \ufffd\ufffdbinary"]


def test_offsets_beyond_the_file_or_going_back_are_kept_within_it() -> None:
    attempts = [_attempt(0, 50), _attempt(1, 10), _attempt(2, None)]
    assert [p.begin for p in log_parts(attempts, "stdout", 20)] == [0, 20, 20, 20]


def test_on_a_terminal_what_the_program_wrote_cannot_act(tmp_path: Path) -> None:
    log = tmp_path / "a.0.stdout"
    log.write_bytes(b"\x1b[2Jwiped\x1b]0;title\x07 \xff\n")
    out = io.StringIO()
    LogPrinter(out, escape=True).drain("a.0", log, [], "stdout")
    assert out.getvalue() == "a.0 | wiped \\xff\n"
    raw = io.StringIO()
    LogPrinter(raw).drain("a.0", log, [], "stdout")  # to a pipe or a file: as written
    assert raw.getvalue() == "a.0 | \x1b[2Jwiped\x1b]0;title\x07 \ufffd\n"
