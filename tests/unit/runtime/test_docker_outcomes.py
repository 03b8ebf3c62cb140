"""How container ends and Engine errors become attempt outcomes."""

from __future__ import annotations

from localbatch.runtime.docker import _classify, _command_not_found, _safe_name, _skip


def test_oom_killed_is_out_of_memory() -> None:
    outcome = _classify(137, True, 64 * 2**20, b"", "python")
    assert (outcome.exit_code, outcome.error_code) == (137, "OutOfMemory")
    assert "64 MiB" in outcome.error_message


def test_init_exec_failure_is_command_not_found() -> None:
    head = b"[FATAL tini (7)] exec nosuch failed: No such file or directory\n"
    outcome = _classify(127, False, 0, head, "nosuch")
    assert outcome.error_code == "CommandNotFound"
    assert "exec nosuch failed" in outcome.error_message


def test_a_program_exiting_127_by_itself_is_just_its_exit_code() -> None:
    outcome = _classify(127, False, 0, b"sh: 1: foo: not found\n", "sh")
    assert (outcome.exit_code, outcome.error_code) == (127, "")


def test_engine_start_errors_that_mean_command_not_found() -> None:
    assert _command_not_found('exec: "nosuch": executable file not found in $PATH')
    assert not _command_not_found("invalid mount config")


def test_kept_names_are_valid_container_names() -> None:
    assert (
        _safe_name("localbatch-kept-job-1", "my task/1", "0") == "localbatch-kept-job-1.my_task_1.0"
    )


def test_an_adopted_container_skips_what_the_log_files_already_hold() -> None:
    chunks = [(b"abc", None), (None, b"E1"), (b"def", b"E2\n"), (b"g", None)]
    kept = list(_skip(iter(chunks), 4, 2))
    assert kept == [(None, None), (None, None), (b"ef", b"E2\n"), (b"g", None)]
    assert b"".join(out for out, _ in kept if out) == b"abcdefg"[4:]
