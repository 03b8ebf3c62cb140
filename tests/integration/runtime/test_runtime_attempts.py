"""What a program sees and how its end is recorded, on Docker, Swarm and bubblewrap alike."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from localbatch.runtime.base import AttemptHandle, AttemptOutcome, FindsPrograms, run_attempt
from localbatch.runtime.sandbox_memory import RlimitMemory
from localbatch.storage.needs import Access, Need, NeedKind

from .conftest import SERVICE_ENV, Harness


def test_exit_codes_are_recorded(harness: Harness) -> None:
    ok = harness.run(harness.spec("sh", "-c", "exit 0"))
    failed = harness.run(harness.spec("sh", "-c", "exit 3"))
    assert ok.succeeded and ok.exit_code == 0
    assert not failed.succeeded
    assert (failed.exit_code, failed.error_code) == (3, "")


def test_environment_is_exactly_the_given_one(harness: Harness) -> None:
    env = {**SERVICE_ENV, "BATCH_COMPUTE_DAG_JOB_ID": "job-1", "SPACED": "a b  c"}
    outcome = harness.run(harness.spec("env", env=env))
    assert outcome.succeeded
    seen = dict(line.split("=", 1) for line in harness.stdout.read_text().splitlines())
    # Docker always adds the container's HOSTNAME; nothing else may appear or be missing.
    if harness.runtime.name in ("docker", "swarm"):
        seen.pop("HOSTNAME")
    assert seen == env


def test_arguments_reach_the_program_without_a_shell(harness: Harness) -> None:
    outcome = harness.run(harness.spec("echo", "$HOME", "a  b", "*", "|"))
    assert outcome.succeeded
    assert harness.stdout.read_text() == "$HOME a  b * |\n"


def test_workdir_is_the_package_directory_and_writable(harness: Harness) -> None:
    (harness.workdir / "worker.sh").write_text("pwd\ncat data.txt\necho made > out.txt\n")
    (harness.workdir / "data.txt").write_text("package file\n")
    outcome = harness.run(harness.spec("sh", "worker.sh"))
    assert outcome.succeeded
    assert harness.stdout.read_text() == "/batchcompute/workdir\npackage file\n"
    assert (harness.workdir / "out.txt").read_text() == "made\n"


def test_binds_are_read_only_or_writable_as_asked(harness: Harness, tmp_path: Path) -> None:
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    (inputs / "a.txt").write_text("input\n")
    needs = (
        Need(NeedKind.INPUT, inputs, "/home/input/", Access.READ_ONLY),
        Need(NeedKind.OUTPUT, outputs, "/home/output/", Access.READ_WRITE),
    )
    script = "cat /home/input/a.txt; echo x > /home/output/b.txt; echo y > /home/input/c.txt"
    outcome = harness.run(harness.spec("sh", "-c", script, needs=needs))
    assert outcome.exit_code != 0  # the last write, into the read-only bind, fails
    assert harness.stdout.read_text() == "input\n"
    assert (outputs / "b.txt").read_text() == "x\n"
    assert not (inputs / "c.txt").exists()
    assert "Read-only file system" in harness.stderr.read_text()


def test_stdout_and_stderr_go_to_their_own_files_and_append(harness: Harness) -> None:
    script = "echo to-out; echo to-err >&2"
    harness.run(harness.spec("sh", "-c", script))
    harness.run(harness.spec("sh", "-c", script))
    assert harness.stdout.read_text() == "to-out\nto-out\n"
    assert harness.stderr.read_text() == "to-err\nto-err\n"


def test_timeout_stops_gracefully_first(harness: Harness) -> None:
    script = "trap 'echo graceful > /batchcompute/workdir/term; exit 0' TERM; sleep 60 & wait"
    outcome = harness.run(harness.spec("sh", "-c", script), timeout=1.0)
    assert outcome.error_code == "Timeout"
    assert not outcome.succeeded
    assert (harness.workdir / "term").read_text() == "graceful\n"


def test_timeout_kills_a_program_that_ignores_sigterm(harness: Harness) -> None:
    script = "trap '' TERM; echo ignoring; sleep 60 & wait; echo survived > /batchcompute/workdir/s"
    outcome = harness.run(harness.spec("sh", "-c", script), timeout=1.0)
    assert outcome.error_code == "Timeout"
    assert outcome.exit_code == 137
    assert not (harness.workdir / "s").exists()


def test_cancel_stops_the_attempt(harness: Harness) -> None:
    cancel = threading.Event()

    def started(_: AttemptHandle) -> None:
        cancel.set()

    outcome = harness.run(harness.spec("sleep", "60"), cancel=cancel, on_started=started)
    assert outcome.error_code == "Stopped"


def test_memory_limit_is_enforced_and_reported(harness: Harness) -> None:
    grab = "x = bytearray(400 * 2**20); print('allocated')"
    outcome = harness.run(harness.spec("python3", "-c", grab, memory_bytes=128 * 2**20))
    assert "allocated" not in harness.stdout.read_text()
    if isinstance(getattr(harness.runtime, "memory", None), RlimitMemory):
        # No writable memory cgroup: RLIMIT_AS holds, the program sees its allocation fail.
        assert outcome.exit_code == 1 and "MemoryError" in harness.stderr.read_text()
    else:
        assert outcome.error_code == "OutOfMemory"
        assert "128 MiB" in outcome.error_message
    small = harness.run(harness.spec("python3", "-c", "x = bytearray(16 * 2**20)"))
    assert small.succeeded


def test_missing_command_is_command_not_found(harness: Harness) -> None:
    outcome = harness.run(harness.spec("no-such-program", "arg"))
    assert outcome.error_code == "CommandNotFound"
    assert outcome.exit_code == 127
    assert "no-such-program" in outcome.error_message


def test_an_unwritable_log_file_is_a_start_failure(harness: Harness) -> None:
    spec = harness.spec("true", stdout_path=harness.root / "absent" / "stdout")
    outcome = harness.run(spec)
    assert outcome.error_code == "InstanceStartFailed"
    assert "absent" in outcome.error_message


def test_a_missing_bind_source_is_a_start_failure(harness: Harness) -> None:
    need = Need(NeedKind.INPUT, harness.root / "absent", "/home/input/", Access.READ_ONLY)
    outcome = harness.run(harness.spec("true", needs=(need,)))
    assert outcome.error_code == "InstanceStartFailed"
    assert "absent" in outcome.error_message


#: Seconds the kill has to end an attempt given an hour of grace.
KILL_DEADLINE = 60


def test_a_kill_cuts_the_grace_period_of_a_stop_short(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM first; the kill (a second Ctrl-C) ends it at once, not after the grace."""
    script = "trap 'echo got-term' TERM; echo started; while :; do sleep 0.1; done"
    cancel, kill = threading.Event(), threading.Event()

    def started(_: AttemptHandle) -> None:
        cancel.set()

    def kill_once_terminated() -> None:  # the program said it got SIGTERM: now kill it
        while "got-term" not in (harness.stdout.read_text() if harness.stdout.exists() else ""):
            if kill.wait(0.05):
                return
        kill.set()

    watcher = threading.Thread(target=kill_once_terminated, daemon=True)
    watcher.start()
    if hasattr(harness.runtime, "stop_grace"):  # the swarm's services carry their own grace
        monkeypatch.setattr(harness.runtime, "stop_grace", 3600)
    # With an hour of grace, only the kill can end it within the test's deadline.
    ended: list[AttemptOutcome] = []
    spec = harness.spec("sh", "-c", script)

    def run() -> None:
        runtime = harness.runtime
        ended.append(run_attempt(runtime, spec, 600, cancel, started, grace=3600, kill=kill))

    attempt = threading.Thread(target=run, daemon=True)
    attempt.start()
    attempt.join(KILL_DEADLINE)
    kill.set()
    watcher.join()
    assert ended, f"the kill did not end the attempt within {KILL_DEADLINE} s"
    (outcome,) = ended
    assert outcome.error_code == "Stopped"
    assert outcome.exit_code == 137
    assert "got-term" in harness.stdout.read_text()


def test_the_programs_an_attempt_sees_are_known_before_it_runs(harness: Harness) -> None:
    runtime = harness.runtime
    assert isinstance(runtime, FindsPrograms)
    paths = ["/bin/sh", "/usr/bin/python3", "/usr/bin/no-such-program", "/etc/passwd", "/usr/bin"]
    found = runtime.executables(harness.image, paths, SERVICE_ENV)
    assert found == {"/bin/sh", "/usr/bin/python3"}  # links followed; files and dirs are not
    assert runtime.executables(harness.image, ["/tmp/x"], SERVICE_ENV) == frozenset()
