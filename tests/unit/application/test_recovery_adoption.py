"""Recovery in one process: orphaned jobs in the store, a runtime that can reattach.

What a kill -9 leaves is written into the store directly (a job of a dead runner with an
instance recorded Running); the fake runtime stands in for Docker: `reattach(ref)` finds
the attempt still running (or not), and the test decides how it ends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.application.stack import LocalService, open_local_service
from localbatch.config import load_config
from localbatch.events import AttemptSnapshot, Event
from localbatch.runtime.base import AttemptSpec
from localbatch.runtime.fake import FakeHandle, FakeRuntime, FakeStep
from localbatch.states import State
from localbatch.storage.needs import package_view
from localbatch.store import Store
from tests.unit.server.server_helpers import make_body, record_orphan


class ReattachingRuntime(FakeRuntime):
    """A fake runtime whose earlier attempts (by ref) may still be running."""

    def __init__(self) -> None:
        super().__init__()
        self.survivors: dict[str, FakeHandle] = {}
        self.reattached: list[str] = []
        #: Where each reattached attempt's output begins in the log files, as recovery said.
        self.begins_at: list[tuple[int, int] | None] = []

    def survive(self, ref: str, step: FakeStep, tmp: Path) -> None:
        spec = AttemptSpec("job-1", "split", 0, 0, ("x",), {}, (package_view(tmp),))
        self.survivors[ref] = FakeHandle(ref, spec, step, 0.0)

    def reattach(
        self,
        ref: str,
        stdout: Path | None = None,
        stderr: Path | None = None,
        *,
        begins_at: tuple[int, int] | None = None,
    ) -> Any:
        self.reattached.append(ref)
        self.begins_at.append(begins_at)
        return self.survivors.get(ref)


def _orphan(state_dir: Path, retry_count: int = 0, *, fail_on: bool = True, **task: Any) -> None:
    """A job whose runner died while split.0 ran (as container c-1), at retry `retry_count`."""
    body = make_body(instances=2)
    body["DAG"]["Tasks"]["split"].update(task)
    body["JobFailOnInstanceFail"] = fail_on
    store = Store.open(state_dir)
    record_orphan(store, body, retry_count, ref="c-1")
    store.close()


@pytest.fixture
def runtime() -> ReattachingRuntime:
    return ReattachingRuntime()


@pytest.fixture
def local(tmp_path: Path, runtime: ReattachingRuntime) -> Iterator[LocalService]:
    config = load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    _orphan(config.state_dir)
    service = open_local_service(config, runtime, oss_port=None)
    yield service
    service.close()


def _finish(local: LocalService) -> State:
    assert local.recovery is not None and local.engine is not None
    assert local.recovery.sweep() == ["job-1"]
    return _wait_end(local)


def _wait_end(local: LocalService) -> State:
    ended = threading.Event()

    def on_event(event: Event) -> None:
        if event.category == "Job" and event.state.terminal:
            ended.set()

    local.bus.subscribe(on_event)
    record = local.store.get_job("job-1")
    assert record is not None
    if not record.state.terminal:
        assert ended.wait(30)
    final = local.store.get_job("job-1")
    assert final is not None
    return final.state


def test_a_still_running_attempt_is_adopted(
    local: LocalService, runtime: ReattachingRuntime, tmp_path: Path
) -> None:
    runtime.survive("c-1", FakeStep(exit_code=0), tmp_path)
    _prepare_as_the_dead_runner(local)
    assert _finish(local) == State.FINISHED
    assert runtime.reattached == ["c-1"]
    adopted = local.store.attempts("job-1", "split", 0)
    assert [(a.run, a.state, a.exit_code) for a in adopted] == [(0, State.FINISHED, 0)]
    assert adopted[0].start_time == 2.0 and (adopted[0].end_time or 0) > 2.0
    rerun = {(s.task_name, s.instance_id) for s in runtime.started}
    assert ("split", 0) not in rerun and ("split", 1) in rerun and ("merge", 0) in rerun


def test_a_vanished_attempt_is_lost_and_retried(
    local: LocalService, runtime: ReattachingRuntime
) -> None:
    # No survivor: reattach answers None. MaxRetryCount is 0 in make_body.
    assert _finish(local) == State.FAILED
    instance = local.store.get_instance("job-1", "split", 0)
    assert instance is not None and instance.error_code == "Lost"
    (lost,) = local.store.attempts("job-1", "split", 0)
    assert (lost.state, lost.error_code, lost.start_time) == (State.FAILED, "Lost", 2.5)
    assert lost.end_time == instance.end_time and (lost.end_time or 0) > 2.5
    merge = local.store.get_task("job-1", "merge")
    assert merge is not None and merge.state == State.STOPPED


def test_lost_with_a_retry_left_runs_again(tmp_path: Path, runtime: ReattachingRuntime) -> None:
    config = load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    _orphan(config.state_dir, MaxRetryCount=1)
    local = open_local_service(config, runtime, oss_port=None)
    try:
        assert _finish(local) == State.FINISHED
        attempts = local.store.attempts("job-1", "split", 0)
        assert [(a.run, a.error_code) for a in attempts] == [(0, "Lost"), (1, "")]
    finally:
        local.close()


def _open(tmp_path: Path, runtime: ReattachingRuntime, *args: Any, **task: Any) -> LocalService:
    config = load_config(
        tmp_path / "none.toml", env={}, state_dir=tmp_path / "state", oss_root=tmp_path / "oss"
    )
    _orphan(config.state_dir, *args, **task)
    return open_local_service(config, runtime, oss_port=None)


def test_a_lost_attempt_uses_one_of_the_retries(
    tmp_path: Path, runtime: ReattachingRuntime
) -> None:
    runtime.script("split", FakeStep(exit_code=1), instance=0)
    local = _open(tmp_path, runtime, 1, MaxRetryCount=2)  # retry 1 was lost: retry 2 is left
    try:
        assert _finish(local) == State.FAILED
        split0 = [s for s in runtime.started if (s.task_name, s.instance_id) == ("split", 0)]
        assert len(split0) == 1
        attempts = local.store.attempts("job-1", "split", 0)
        assert [(a.run, a.error_code) for a in attempts] == [(0, "Lost"), (1, "")]
        instance = local.store.get_instance("job-1", "split", 0)
        assert instance is not None and instance.retry_count == 2
    finally:
        local.close()


def test_lost_with_no_retry_left_is_not_run_again_when_jobs_go_on(
    tmp_path: Path, runtime: ReattachingRuntime
) -> None:
    local = _open(tmp_path, runtime, 1, fail_on=False, MaxRetryCount=1)
    try:
        assert _finish(local) == State.FINISHED
        rerun = {(s.task_name, s.instance_id) for s in runtime.started}
        assert rerun == {("split", 1), ("merge", 0)}
        instance = local.store.get_instance("job-1", "split", 0)
        assert instance is not None and (instance.state, instance.error_code) == (
            State.FAILED,
            "Lost",
        )
        split = local.store.get_task("job-1", "split")
        assert split is not None and split.state == State.FINISHED
    finally:
        local.close()


def _prepare_as_the_dead_runner(local: LocalService, *, offsets: bool = True) -> Path:
    """What the dead process did for split.0 attempt 0: its storage, recorded in the store
    (without where its output begins in the log files, as an older localbatch, unless
    `offsets`); the program then wrote an output, a LogMapping file and stdout. Answers the
    workdir."""
    from localbatch.storage.instance import JobStorage

    config = local.config
    job = local.service.model("job-1")
    storage = JobStorage(config, "job-1", job, config.state_dir / "jobs" / "job-1")
    prepared = storage.prepare("split", 0, 0)
    detail = {
        "ref": "c-1",
        "workdir": str(prepared.workdir),
        "stdout_path": str(prepared.stdout_path),
        "stderr_path": str(prepared.stderr_path),
        "stdout_object": prepared.stdout_object,
        "stderr_object": prepared.stderr_object,
    }
    local.store.on_event(
        Event(
            "OnInstanceRunning", "job-1", State.RUNNING, 2.0, "Instance", "split", 0,
            start_time=2.0, attempt=0, detail=detail,
            latest_attempt=AttemptSnapshot(
                0, State.RUNNING, 2.0, ref="c-1",
                stdout_offset=0 if offsets else None, stderr_offset=0 if offsets else None,
            ),
        )
    )  # fmt: skip
    for directory, _ in prepared.outputs:
        (directory / "result.txt").write_text("made before the crash")
    for bind in prepared.needs:
        if bind.target == "/var/log/app.log":
            bind.source.write_text("app log line\n")
    prepared.stdout_path.write_text("printed\n")
    return prepared.workdir


def test_adopted_attempt_uploads_its_outputs_and_pushes_its_logs(
    tmp_path: Path, runtime: ReattachingRuntime
) -> None:
    local = _open(
        tmp_path,
        runtime,
        OutputMapping={"/out/": "oss://bucket/out/"},
        LogMapping={"/var/log/app.log": "oss://bucket/applogs/"},
    )
    try:
        workdir = _prepare_as_the_dead_runner(local)
        runtime.survive("c-1", FakeStep(exit_code=0), tmp_path)
        assert _finish(local) == State.FINISHED
        # Its output is completed from where the attempt began in the log files.
        assert runtime.begins_at == [(0, 0)]
        attempts = local.store.attempts("job-1", "split", 0)
        assert [(a.run, a.state, a.exit_code) for a in attempts] == [(0, State.FINISHED, 0)]
        assert ("split", 0) not in {(s.task_name, s.instance_id) for s in runtime.started}
        oss = tmp_path / "oss" / "bucket"
        assert (oss / "out" / "result.txt").read_text() == "made before the crash"
        assert (oss / "applogs" / "app.log.job-1.split.0").read_text() == "app log line\n"
        assert (oss / "logs" / "stdout.job-1.split.0").read_text() == "printed\n"
        assert not workdir.parent.exists()  # the attempt's directory is freed
        assert runtime.released[0] == ("c-1", False)  # its output is whole: removed
    finally:
        local.close()


def test_adopted_attempt_whose_output_start_is_unknown_keeps_its_container(
    local: LocalService, runtime: ReattachingRuntime, tmp_path: Path
) -> None:
    # Its log files miss what it wrote while no runner watched; only its container has it.
    _prepare_as_the_dead_runner(local, offsets=False)
    runtime.survive("c-1", FakeStep(exit_code=0), tmp_path)
    assert _finish(local) == State.FINISHED
    assert runtime.begins_at == [None]
    assert runtime.released[0] == ("c-1", True)


def test_adopted_attempt_whose_storage_is_gone_runs_again(
    tmp_path: Path, runtime: ReattachingRuntime
) -> None:
    # The store records no work directory for it (or one this state dir does not have).
    local = _open(tmp_path, runtime, MaxRetryCount=1, OutputMapping={"/out/": "oss://bucket/out/"})
    runtime.survive("c-1", FakeStep(exit_code=0), tmp_path)
    try:
        assert _finish(local) == State.FINISHED
        first = local.store.attempts("job-1", "split", 0)[0]
        assert (first.run, first.exit_code, first.error_code) == (0, 0, "Lost")
        assert "cannot be collected" in first.error_message
        assert ("split", 0) in {(s.task_name, s.instance_id) for s in runtime.started}
    finally:
        local.close()


def test_stopping_a_job_whose_runner_died_ends_its_running_attempt_stopped(
    local: LocalService,
) -> None:
    local.service.stop("job-1")
    (stopped,) = local.store.attempts("job-1", "split", 0)
    assert (stopped.state, stopped.error_code, stopped.start_time) == (
        State.STOPPED,
        "Stopped",
        2.5,
    )
    assert stopped.end_time is not None


def test_a_live_runner_is_left_alone(local: LocalService) -> None:
    assert local.recovery is not None
    local.store.claim_job("job-1", local.service.runner, new_run=False)  # this live process
    assert local.recovery.orphans() == []
