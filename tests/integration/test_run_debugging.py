"""A run a user can debug, on both real runtimes (`localbatch run` in a subprocess): program
output live and escaped with the log files whole, the failure summary, the checks before
the run, capacity and --oversubscribe, and Ctrl-C (once, twice, during the checks)."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.store import Store

from .test_run_jobs import BUCKET, Runner, _job, _task, prepared_runner, runner

__all__ = ["runner"]  # the fixture, on each runtime


@pytest.fixture(
    params=[
        pytest.param("process", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ]
)
def host_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Runner:
    """The runtimes of one machine: a type larger than the host is scaled down to it there,
    and --oversubscribe sets their sizes aside. A swarm refuses a type no node holds and
    places by its own reservations (test_swarm.py)."""
    return prepared_runner(request, tmp_path)


CHILD_TIMEOUT = 120


def _log(runner: Runner, job_id: str, name: str) -> bytes:
    return (runner.state_dir / "jobs" / job_id / "logs" / name).read_bytes()


def _containers_of(pid: int) -> list[Any]:
    import docker

    client = docker.from_env()
    try:
        return list(
            client.api.containers(all=True, filters={"label": f"localbatch.owner-pid={pid}"})
        )
    finally:
        client.close()


def _services_of(pid: int) -> list[Any]:
    import docker

    client = docker.from_env()
    try:
        return list(client.api.services(filters={"label": f"localbatch.owner-pid={pid}"}))
    finally:
        client.close()


# -- program output ------------------------------------------------------------------------


def test_output_is_shown_prefixed_and_escaped_and_the_log_files_keep_the_bytes(
    runner: Runner,
) -> None:
    script = (
        r'echo out; echo err >&2; printf "bad \377\376 \033[2Jclear\033]0;title\007 x\n"; exit 1'
    )
    ran = runner.run(_job({"t": _task(script, MaxRetryCount=1)}))
    assert ran.code == 3, ran.stdout + ran.stderr
    lines = ran.stdout.splitlines()
    for attempt in ("t.0 |", "t.0 retry 1 |"):
        assert f"{attempt} out" in lines
        assert f"{attempt} bad \\xff\\xfe clear x" in lines
    assert "t.0 ! err" in lines and "t.0 retry 1 ! err" in lines
    assert "\x1b" not in ran.stdout and "\x07" not in ran.stdout
    assert lines.index("t.0 | out") < next(
        i for i, line in enumerate(lines) if "instance t.0 Waiting (retry 1" in line
    )
    printed = b"out\nbad \xff\xfe \x1b[2Jclear\x1b]0;title\x07 x\n"
    assert _log(runner, ran.job_id, "t.0.stdout") == printed * 2  # untouched, both attempts
    assert _log(runner, ran.job_id, "t.0.stderr") == b"err\n" * 2


def test_a_flood_and_a_10_mb_line_are_shown_and_kept_whole(runner: Runner) -> None:
    flood = (
        'python3 -c "import sys; w = sys.stdout.write; '
        "[w(str(i) + chr(10)) for i in range(100000)]; w('x' * 10000000); sys.stdout.flush()\""
    )
    body = _job({"t": _task("true")})
    body["DAG"]["Tasks"]["t"]["Parameters"]["Command"]["CommandLine"] = flood
    ran = runner.run(body, timeout=600)
    assert ran.code == 0, ran.stderr[-2000:]
    shown = [line for line in ran.stdout.splitlines() if line.startswith("t.0 | ")]
    assert len(shown) == 100001
    assert shown[:2] == ["t.0 | 0", "t.0 | 1"] and shown[99999] == "t.0 | 99999"
    assert shown[-1].startswith("t.0 | xxxx") and shown[-1].endswith("the log file has all of it]")
    assert len(shown[-1]) < 10_000
    expected = "".join(f"{i}\n" for i in range(100000)).encode() + b"x" * 10_000_000
    assert _log(runner, ran.job_id, "t.0.stdout") == expected


def test_quiet_hides_the_programs_output_but_not_the_progress(runner: Runner) -> None:
    ran = runner.run(_job({"t": _task("echo only-in-the-log")}), "--quiet")
    assert ran.code == 0, ran.stderr
    assert "only-in-the-log" not in ran.stdout and "instance t.0 Finished" in ran.stdout
    assert _log(runner, ran.job_id, "t.0.stdout") == b"only-in-the-log\n"


def test_a_failed_instance_is_explained_with_its_stderr(runner: Runner) -> None:
    script = "python3 -c \"import json; json.loads('{oops')\""
    body = _job({"t": _task("true")})
    body["DAG"]["Tasks"]["t"]["Parameters"]["Command"]["CommandLine"] = script
    ran = runner.run(body)
    assert ran.code == 3
    summary = ran.stdout[ran.stdout.index("t.0 Failed: exit code 1") :]
    assert "of its stderr:\n  err| Traceback (most recent call last):" in summary
    assert "  err| json.decoder.JSONDecodeError: Expecting property name" in summary
    logs = runner.state_dir.absolute() / "jobs" / ran.job_id / "logs"
    assert f"  stderr: {logs}/t.0.stderr" in summary
    assert f"  stderr on OSS: oss://{BUCKET}/logs/stderr.{ran.job_id}.t.0" in summary
    assert f"localbatch logs {ran.job_id} t 0 --state-dir {runner.state_dir.absolute()}" in summary


# -- the checks before the run ---------------------------------------------------------------


def _problem(kind: str) -> tuple[dict[str, Any], str]:
    """A task with one problem, and the field the check names."""
    task = _task("true")
    command = task["Parameters"]["Command"]
    if kind == "package":
        command["PackagePath"] = f"oss://{BUCKET}/pkg/absent.tar.gz"
        return task, "Parameters.Command.PackagePath"
    if kind == "input":
        task["InputMapping"] = {f"oss://{BUCKET}/absent/": "/home/input/"}
        return task, f"InputMapping oss://{BUCKET}/absent/"
    if kind == "mount":
        task["Mounts"] = {"Entries": [{"Source": f"oss://{BUCKET}/gone/", "Destination": "/m"}]}
        return task, "Mounts.Entries[0].Source"
    if kind == "split":
        command["CommandLine"] = "sh -c 'unclosed"
        return task, "Parameters.Command.CommandLine"
    command["CommandLine"] = "no-such-program-here --flag"
    return task, "Parameters.Command.CommandLine"


KINDS = ("package", "input", "mount", "split", "program")


def _refused(runner: Runner, body: dict[str, Any], *extra: str) -> tuple[int, str, int]:
    """Run a job the checks refuse: (exit status, stderr, pid of the run)."""
    process = subprocess.Popen(
        runner.command(body, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=runner.env(),
    )
    _, stderr = process.communicate(timeout=CHILD_TIMEOUT)
    return process.returncode, stderr, process.pid


def _nothing_recorded(runner: Runner, pid: int) -> None:
    assert not (runner.state_dir / "jobs").exists()
    store = Store.open(runner.state_dir)
    try:
        assert store.list_jobs().items == ()
    finally:
        store.close()
    if runner.runtime == "docker":
        assert _containers_of(pid) == []
    if runner.runtime == "swarm":
        assert _services_of(pid) == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_problem_is_found_before_anything_starts(runner: Runner, kind: str) -> None:
    task, field = _problem(kind)
    code, stderr, pid = _refused(runner, _job({"t": task}))
    assert code == 2, stderr
    assert "1 problem found before the run; nothing was started and no job was recorded" in stderr
    assert f"  task t: {field}: " in stderr
    _nothing_recorded(runner, pid)


def test_every_problem_of_every_task_is_listed_at_once(runner: Runner) -> None:
    tasks = {kind: _problem(kind)[0] for kind in KINDS}
    if runner.runtime == "docker":
        tasks["image"] = _task("true")
        tasks["image"]["Parameters"]["Command"]["Docker"] = {"Image": "localbatch/absent:0"}
    code, stderr, pid = _refused(runner, _job(tasks))
    assert code == 2, stderr
    listed = [line.strip() for line in stderr.splitlines() if line.startswith("  task ")]
    assert [line.split(":")[0] for line in listed] == [f"task {name}" for name in tasks]
    if runner.runtime == "docker":
        assert "task image: Command.Docker.Image: The image localbatch/absent:0 is not" in stderr
    _nothing_recorded(runner, pid)
    dry = subprocess.run(
        runner.command(_job(tasks), "--dry-run"), capture_output=True, text=True,
        env=runner.env(), timeout=CHILD_TIMEOUT,
    )  # fmt: skip
    assert dry.returncode == 2 and "the run would start nothing" in dry.stderr


def test_without_the_checks_each_attempt_fails_as_on_the_service(runner: Runner) -> None:
    task, _ = _problem("program")
    ran = runner.run(_job({"t": task}), "--no-preflight")
    assert ran.code == 3
    assert ran.instance("t").error_code == "CommandNotFound"


# -- capacity --------------------------------------------------------------------------------


def _wide(runner: Runner, *extra: str) -> Any:
    """Three instances of a type larger than any test host: one at a time unless told."""
    auto = {"ImageId": "img-ubuntu", "InstanceType": "bcs.b4.5xlarge"}
    return runner.run(_job({"w": _task("sleep 1", InstanceCount=3, AutoCluster=auto)}), *extra)


def _attempts(runner: Runner, job_id: str) -> list[Any]:
    store = Store.open(runner.state_dir)
    try:
        return [store.attempts(job_id, "w", n)[0] for n in range(3)]
    finally:
        store.close()


def test_instances_held_back_by_capacity_wait_and_say_why(host_runner: Runner) -> None:
    runner = host_runner
    ran = _wide(runner)
    assert ran.code == 0, ran.stderr
    assert "instances w.* (2) waiting for capacity (needs " in ran.stdout
    attempts = sorted(_attempts(runner, ran.job_id), key=lambda a: a.start_time)
    assert [a.capacity_wait_start is not None for a in attempts] == [False, True, True]
    for earlier, later in itertools.pairwise(attempts):
        assert later.start_time >= earlier.end_time  # one at a time
        assert later.launch_time >= later.capacity_wait_start


def test_oversubscribe_starts_them_side_by_side(host_runner: Runner) -> None:
    runner = host_runner
    ran = _wide(runner, "--oversubscribe")
    assert ran.code == 0, ran.stderr
    assert "waiting for capacity" not in ran.stdout
    attempts = _attempts(runner, ran.job_id)
    assert max(a.start_time for a in attempts) < min(a.end_time for a in attempts)
    assert all(a.capacity_wait_start is None for a in attempts)


# -- Ctrl-C ----------------------------------------------------------------------------------


class Interruptible:
    """`localbatch run` in its own process group, its stdout read line by line."""

    def __init__(self, runner: Runner, body: dict[str, Any], *extra: str) -> None:
        self.process = subprocess.Popen(
            runner.command(body, *extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=runner.env(),
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        self.lines: list[str] = []

    def read_until(self, *wanted: str) -> None:
        assert self.process.stdout is not None
        missing = set(wanted)
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            missing = {w for w in missing if w not in line}
            if not missing:
                return
        pytest.fail(f"ended before {missing}: {self.lines}\n{self.process.stderr.read()}")  # type: ignore[union-attr]

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C on a terminal does

    def finish(self) -> tuple[int, str]:
        stdout, stderr = self.process.communicate(timeout=CHILD_TIMEOUT)
        self.lines += stdout.splitlines()
        return self.process.returncode, stderr


def _stopped_and_clean(runner: Runner, ran: Any, pid: int, token: str) -> None:
    """The job ended Stopped and nothing this run started is left: no container, no
    sandboxed process, no attempt directory."""
    import psutil

    store = Store.open(runner.state_dir)
    try:
        job = store.get_job(ran.job_id)
        assert job is not None and job.state == "Stopped"
    finally:
        store.close()
    if runner.runtime == "docker":
        assert _containers_of(pid) == []
    if runner.runtime == "swarm":
        assert _services_of(pid) == []
    left = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if token in " ".join(p.info["cmdline"] or ())
    ]
    assert left == []
    attempts = runner.state_dir / "jobs" / ran.job_id / "attempts"
    assert not attempts.exists() or list(attempts.iterdir()) == []


def test_ctrl_c_says_what_it_stops_and_summarises_once_stopped(runner: Runner) -> None:
    token = f"ctrl-c-{uuid.uuid4().hex}"
    script = f'trap "echo got-term; exit 0" TERM; echo ready {token}; while :; do sleep 0.1; done'
    # A swarm reserves each instance's cores: one node of 2 cores holds one at a time.
    count = 1 if runner.runtime == "swarm" else 2
    body = _job({"t": _task(script, InstanceCount=count)})
    run = Interruptible(runner, body, "--oversubscribe", "--max-parallel", "2")
    run.read_until(*(f"t.{n} | ready " for n in range(count)))
    run.ctrl_c()
    code, stderr = run.finish()
    ran = runner.ran(code, "\n".join(run.lines), stderr)
    assert code == 130
    said = (
        "interrupted: stopping 2 instances (SIGTERM; killed in 10 s); Ctrl-C again kills them now"
        if count == 2
        else "interrupted: stopping 1 instance (SIGTERM; killed in 10 s); Ctrl-C again kills it now"
    )
    assert said in run.lines
    after = run.lines[run.lines.index(said) :]
    assert all(f"t.{n} | got-term" in after for n in range(count))
    summary = next(i for i, line in enumerate(after) if "(it-job): Stopped" in line)
    assert any(f"job {ran.job_id} Stopped" in line for line in after[:summary])
    _stopped_and_clean(runner, ran, run.process.pid, token)


def test_a_second_ctrl_c_kills_at_once_and_still_summarises(runner: Runner) -> None:
    token = f"ctrl-c-{uuid.uuid4().hex}"
    script = f'trap "echo ignoring-term" TERM; echo ready {token}; while :; do sleep 0.1; done'
    run = Interruptible(runner, _job({"t": _task(script)}))
    run.read_until("t.0 | ready ")
    run.ctrl_c()
    run.read_until("t.0 | ignoring-term")
    run.ctrl_c()
    code, stderr = run.finish()
    ran = runner.ran(code, "\n".join(run.lines), stderr)
    assert code == 130, stderr
    assert "interrupted again: killing 1 instance now" in run.lines
    assert any("(it-job): Stopped" in line for line in run.lines)
    assert ran.attempts("t") == [("Stopped", 137, "Stopped")]
    _stopped_and_clean(runner, ran, run.process.pid, token)


@pytest.fixture
def silent_server() -> Iterator[tuple[int, threading.Event]]:
    """A TCP server that accepts and never answers: a check that asks it hangs."""
    server = socket.create_server(("127.0.0.1", 0))
    asked = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            asked.set()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], asked
    server.close()
    for conn in held:
        conn.close()


def test_ctrl_c_during_the_checks_exits_cleanly(
    runner: Runner, silent_server: tuple[int, threading.Event]
) -> None:
    port, asked = silent_server
    config = runner.tmp / "slow.toml"
    config.write_text(f'[oss.buckets]\nslow = "http://127.0.0.1:{port}/"\n')
    task = _task("true")
    task["Parameters"]["Command"]["PackagePath"] = "oss://slow/pkg/worker.tar.gz"
    process = subprocess.Popen(
        [*runner.command(_job({"t": task})), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=runner.env(),
        start_new_session=True,
    )
    assert asked.wait(60), process.communicate(timeout=5)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=CHILD_TIMEOUT)
    assert process.returncode == 130, stderr
    assert "localbatch: interrupted" in stderr and "Traceback" not in stderr
    _nothing_recorded(runner, process.pid)
