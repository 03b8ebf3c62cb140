"""`localbatch run` end to end on the fake runtime: exit codes, output, store, dry run."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oss2
import pytest
from click.testing import CliRunner

import localbatch.runtime.select
from localbatch.cli import main
from localbatch.cli.common import open_local
from localbatch.cli.server_logs import AIOHTTP_SERVER_LOGGER, BadRequestOneLine
from localbatch.config import load_config
from localbatch.runtime.fake import FakeRuntime, FakeStep
from localbatch.store import Store
from tests.unit.runtime.cluster_fake import ClusterFake


def _task(command: str = "python3 main.py", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "InstanceCount": 1,
        "MaxRetryCount": 0,
        "Timeout": 60,
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
        "Parameters": {
            "Command": {
                "CommandLine": command,
                "PackagePath": "",
                "EnvVars": {"API_SECRET": "hunter2"},
            },
            "StdoutRedirectPath": "oss://bucket/logs/",
            "StderrRedirectPath": "oss://bucket/logs/",
        },
    }
    body.update(fields)
    return body


def _job(tmp_path: Path, **fields: Any) -> Path:
    body = {
        "Name": "cli-job",
        "Type": "DAG",
        "DAG": {
            "Tasks": {"first": _task(InstanceCount=2), "second": _task()},
            "Dependencies": {"first": ["second"]},
        },
    }
    body.update(fields)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(body))
    return path


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRuntime]:
    """The runtime `run` selects: a fake one, whatever --runtime says."""
    fake = FakeRuntime(FakeStep(stdout="hello\n"))

    def select_runtime(choice: str, config: object, **_: object) -> tuple[FakeRuntime, str]:
        return fake, f"runtime: fake (asked for {choice})"

    # Only the function is replaced: the module's other names (CHOICES) stay real.
    monkeypatch.setattr(localbatch.runtime.select, "select_runtime", select_runtime)
    yield fake


def _invoke(tmp_path: Path, *args: str) -> Any:
    runner = CliRunner()
    return runner.invoke(
        main,
        [
            "run",
            *args,
            "--state-dir",
            str(tmp_path / "state"),
            "--oss-root",
            str(tmp_path / "oss"),
            "--config",
            str(tmp_path / "none.toml"),
        ],
        catch_exceptions=False,
    )


def test_a_finished_job_exits_0_with_a_summary_and_is_stored(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint")
    assert result.exit_code == 0, result.output
    assert "instance first.1 Finished exit 0" in result.output
    assert "job-" in result.output and "Finished" in result.output
    assert "2/2 finished" in result.output
    assert "logs on OSS: oss://bucket/logs/" in result.output
    order = [s.task_name for s in runtime.started]
    assert order == ["first", "first", "second"]
    store = Store.open(tmp_path / "state")
    try:
        (job,) = store.list_jobs().items
        assert job.state == "Finished"
        assert store.get_instance(job.id, "first", 1).state == "Finished"  # type: ignore[union-attr]
    finally:
        store.close()
    stdout_logs = list((tmp_path / "state" / "jobs").glob("*/logs/first.0.stdout"))
    assert stdout_logs and stdout_logs[0].read_text() == "hello\n"


def test_a_failed_job_exits_3_and_names_the_error(tmp_path: Path, runtime: FakeRuntime) -> None:
    runtime.script("second", FakeStep(None, "OutOfMemory", "killed: memory limit"))
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint")
    assert result.exit_code == 3, result.output
    assert "second.0 Failed: OutOfMemory" in result.output


def test_an_invalid_job_exits_1_like_validate(tmp_path: Path, runtime: FakeRuntime) -> None:
    path = _job(tmp_path, Name="9-bad name")
    ran = _invoke(tmp_path, str(path))
    validated = CliRunner().invoke(main, ["validate", str(path), "--config", str(tmp_path / "x")])
    assert ran.exit_code == validated.exit_code == 1
    assert ran.output.strip() and ran.output == validated.output
    assert runtime.started == []


def test_only_runs_the_named_tasks(tmp_path: Path, runtime: FakeRuntime) -> None:
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint", "--only", "second")
    assert result.exit_code == 0, result.output
    assert [s.task_name for s in runtime.started] == ["second"]
    # The task left out is said not run, never as stopped instances; the store keeps Stopped.
    assert "task first not run (--only)" in result.output
    summary = next(line for line in result.output.splitlines() if line.startswith("│ first"))
    assert "not run (--only)" in summary and "stopped" not in summary
    assert "instance first." not in result.output
    store = Store.open(tmp_path / "state")
    try:
        (job,) = store.list_jobs().items
        assert store.get_task(job.id, "first").state == "Stopped"  # type: ignore[union-attr]
    finally:
        store.close()
    bad = _invoke(tmp_path, str(_job(tmp_path)), "--only", "nope")
    assert bad.exit_code == 2 and "--only names no task of the job: nope" in bad.output


def test_dry_run_shows_image_limits_paths_env_and_runs_nothing(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    task = _task(
        InputMapping={"oss://bucket/in/": "/home/input/"},
        OutputMapping={"/home/output/": "oss://bucket/out/"},
    )
    path = _job(tmp_path, DAG={"Tasks": {"only": task}, "Dependencies": {}})
    (tmp_path / "oss" / "bucket" / "in").mkdir(parents=True)
    result = _invoke(tmp_path, str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "instance type: ecs.sn1.medium -> 2 cores, 4 GiB" in out or "scaled" in out
    assert "/home/input/ <- oss://bucket/in/ (read-only)" in out
    assert "/home/output/ -> oss://bucket/out/" in out
    assert "BATCH_COMPUTE_DAG_INSTANCE_ID=0" in out
    assert "API_SECRET=******" in out and "hunter2" not in out
    assert "not used by the fake runtime" in out
    assert "capacity: this host: " in out
    assert runtime.started == []


def test_dry_run_on_a_cluster_shows_its_nodes_and_what_none_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = ClusterFake()
    monkeypatch.setattr(
        localbatch.runtime.select, "select_runtime", lambda *_, **__: (cluster, "runtime: fake")
    )
    big = _task(AutoCluster={"ImageId": "img-ubuntu", "InstanceType": "bcs.b4.5xlarge"})
    path = _job(tmp_path, DAG={"Tasks": {"small": _task(), "big": big}, "Dependencies": {}})
    result = _invoke(tmp_path, str(path), "--dry-run", "--no-preflight")
    assert result.exit_code == 0, result.output
    assert "capacity: cluster of 2 nodes; 6 cores, 12 GiB in all" in result.output
    assert "at once: 3 at a time: ecs.sn1.medium needs 2 cores, the cluster has 6" in (
        result.output
    )
    assert "instance type: bcs.b4.5xlarge -> 24 cores, 96 GiB" in result.output  # not scaled
    assert "cannot run: instance type bcs.b4.5xlarge (24 cores, 96 GiB) is larger than every " in (
        result.output
    )


def test_the_oss_endpoint_address_reaches_the_instances(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    result = _invoke(tmp_path, str(_job(tmp_path)))
    assert result.exit_code == 0, result.output
    host = runtime.started[0].env["BATCH_COMPUTE_OSS_HOST"]
    assert host.startswith("127.0.0.1:") and int(host.rsplit(":", 1)[1]) > 0


def test_auto_release_deletes_a_finished_job_from_the_store(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    result = _invoke(tmp_path, str(_job(tmp_path, AutoRelease=True)), "--no-oss-endpoint")
    assert result.exit_code == 0, result.output
    store = Store.open(tmp_path / "state")
    try:
        assert store.list_jobs().items == ()
    finally:
        store.close()
    events = list((tmp_path / "state").rglob("*.jsonl"))
    assert events, "the notifier keeps every event in a JSON-lines file per job"


class SigningWorker(FakeRuntime):
    """Attempts whose "program" writes to OSS with its own cloud keys, as an oss2 worker does."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[str] = []

    def start(self, spec: Any) -> Any:
        auth = oss2.Auth("LTAIworkerkey", "worker-secret")
        bucket = oss2.Bucket(auth, f"http://{spec.env['OSS_ENDPOINT']}", "bucket")
        try:
            bucket.put_object(f"out/{spec.task_name}.{spec.instance_id}", b"done")
            self.answers.append("stored")
        except oss2.exceptions.OssError as exc:
            self.answers.append(str(exc.code))
        return super().start(spec)


def test_instances_signing_with_their_own_keys_reach_the_endpoint_under_api_credentials(
    tmp_path: Path,
    runtime: FakeRuntime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = SigningWorker()
    monkeypatch.setattr(
        localbatch.runtime.select, "select_runtime", lambda choice, config, **_: (worker, "fake")
    )
    monkeypatch.setenv("LOCALBATCH_ACCESS_KEY_ID", "api-id")
    monkeypatch.setenv("LOCALBATCH_ACCESS_KEY_SECRET", "api-secret")
    result = _invoke(tmp_path, str(_job(tmp_path)))
    assert result.exit_code == 0, result.output
    assert worker.answers == ["stored"] * 3
    assert (tmp_path / "oss" / "bucket" / "out" / "second.0").read_bytes() == b"done"
    assert any("accepts any signature" in r.getMessage() for r in caplog.records)


def test_run_waits_for_a_full_store_to_record_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job ended but its store is full: `run` says so once and waits for space."""
    import io

    from rich.console import Console

    from localbatch.cli import run as run_module
    from localbatch.unwritable import StoreUnwritable

    class FullThenFreed:
        failure = StoreUnwritable(Path("/state"), "no space left on device")

        def __init__(self) -> None:
            self.answers = [False, False, True]
            self.closed = False

        def flush(self) -> bool:
            return self.answers.pop(0)

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(run_module, "RECORD_RETRY_SECONDS", 0)
    recorder = FullThenFreed()
    err = io.StringIO()
    run_module._record_the_end(recorder, Console(file=err, width=300))  # type: ignore[arg-type]
    assert recorder.answers == [] and recorder.closed
    said = err.getvalue().strip().splitlines()
    assert len(said) == 1 and "no space left on device" in said[0] and "waiting" in said[0]


def test_json_prints_the_final_summary_alone_on_stdout(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    runtime.script("second", FakeStep(None, "OutOfMemory", "killed: memory limit"))
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint", "--json")
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert summary["State"] == "Failed" and summary["ExitStatus"] == 3
    assert summary["JobId"].startswith("job-") and summary["JobName"] == "cli-job"
    first, second = summary["Tasks"]
    assert (first["TaskName"], first["State"], first["InstanceMetrics"]["FinishedCount"]) == (
        "first",
        "Finished",
        2,
    )
    (failed,) = second["Instances"]
    assert (failed["State"], failed["ErrorCode"]) == ("Failed", "OutOfMemory")
    assert Path(failed["StdoutLog"]).name == "second.0.stdout"
    assert summary["OssLogFolders"] == ["oss://bucket/logs/"]
    assert "instance first.1 Finished exit 0" in result.stderr  # progress still shown
    # And the programs' output beside it (prefixes are padded to the widest, second.0).
    assert "first.1  | hello" in result.stderr


def test_json_of_an_invalid_job_is_the_validation_report(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    result = _invoke(tmp_path, str(_job(tmp_path, Name="9-bad name")), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["errors"][0]["Code"] == "InvalidName"


def test_the_instance_endpoint_answers_non_http_with_one_line(tmp_path: Path) -> None:
    """An instance sending garbage to `$OSS_ENDPOINT` gets its 400; `run` logs one line."""
    logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    before = list(logger.filters)
    logger.filters[:] = [f for f in before if not isinstance(f, BadRequestOneLine)]
    config = load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path / "s")
    try:
        # What `run` opens: no endpoint for clients, one for the instances.
        local = open_local(config, FakeRuntime(), oss_port=None, instance_oss=True)
        assert local.instance_oss_address
        local.close()
        assert any(isinstance(f, BadRequestOneLine) for f in logger.filters)
    finally:
        logger.filters[:] = before


def test_program_output_is_shown_prefixed_unless_quiet(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    shown = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint")
    assert shown.exit_code == 0, shown.output
    lines = [" ".join(line.split()) for line in shown.output.splitlines()]  # prefixes are padded
    assert {"first.0 | hello", "first.1 | hello", "second.0 | hello"} <= set(lines)
    # An attempt's lines come before the line saying how it ended.
    assert lines.index("first.0 | hello") < next(
        i for i, line in enumerate(lines) if line.endswith("instance first.0 Finished exit 0")
    )
    quiet = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint", "--quiet")
    assert quiet.exit_code == 0, quiet.output
    assert "| hello" not in quiet.output and "instance first.0 Finished" in quiet.output


def test_problems_found_before_the_run_exit_2_and_record_nothing(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    missing_input = _task(InputMapping={"oss://bucket/in/": "/home/input/"})
    bad_command = _task("sh -c 'oops")
    path = _job(tmp_path, DAG={"Tasks": {"a": missing_input, "b": bad_command}, "Dependencies": {}})
    result = _invoke(tmp_path, str(path))
    assert result.exit_code == 2, result.output
    assert "2 problems found before the run; nothing was started" in result.output
    assert "task a: InputMapping oss://bucket/in/: oss://bucket/in/ does not exist" in result.output
    assert "task b: Parameters.Command.CommandLine: CommandLine" in result.output
    assert runtime.started == []
    assert not (tmp_path / "state" / "jobs").exists()
    store = Store.open(tmp_path / "state")
    try:
        assert store.list_jobs().items == ()
    finally:
        store.close()
    dry = _invoke(tmp_path, str(path), "--dry-run")
    assert dry.exit_code == 2 and "the run would start nothing" in dry.output
    # --no-preflight: the service's behaviour, each attempt fails with its error code.
    anyway = _invoke(tmp_path, str(path), "--no-preflight", "--no-oss-endpoint")
    assert anyway.exit_code == 3, anyway.output
    assert "b.0 Failed: InvalidCommandLine" in anyway.output


def test_a_failed_instance_is_explained_in_the_summary(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    runtime.script("second", FakeStep(exit_code=2, stdout="partial result\n"))
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint")
    assert result.exit_code == 3, result.output
    out = result.output
    summary = out[out.index("second.0 Failed: exit code 2") :]
    assert "the last line of its stdout:\n  out| partial result" in summary
    assert "/logs/second.0.stderr" in summary
    state_dir = (tmp_path / "state").absolute()
    assert "localbatch logs job-" in summary and f"second 0 --state-dir {state_dir}" in summary


def test_oversubscribe_starts_instances_side_by_side(tmp_path: Path, runtime: FakeRuntime) -> None:
    runtime.default = FakeStep(duration=0.3)
    tasks = {
        "wide": _task(
            InstanceCount=3, AutoCluster={"ImageId": "img-ubuntu", "InstanceType": "bcs.b4.5xlarge"}
        )
    }
    path = _job(tmp_path, DAG={"Tasks": tasks, "Dependencies": {}})
    result = _invoke(tmp_path, str(path), "--no-oss-endpoint", "--oversubscribe")
    assert result.exit_code == 0, result.output
    assert runtime.max_running == 3
    alone = _invoke(tmp_path, str(path), "--no-oss-endpoint", "--max-parallel", "3")
    assert alone.exit_code == 0 and "waiting for capacity" in alone.output


def test_the_configs_runtime_is_used_without_runtime_and_the_flag_wins(
    tmp_path: Path, runtime: FakeRuntime
) -> None:
    (tmp_path / "none.toml").write_text('runtime = "swarm"\n')
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint")
    assert result.exit_code == 0, result.output
    assert "runtime: fake (asked for swarm)" in result.output
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint", "--runtime", "docker")
    assert "runtime: fake (asked for docker)" in result.output


def test_an_unknown_runtime_in_the_config_is_named(tmp_path: Path) -> None:
    (tmp_path / "none.toml").write_text('runtime = "kubernetes"\n')
    result = _invoke(tmp_path, str(_job(tmp_path)), "--no-oss-endpoint")
    assert result.exit_code == 2, result.output
    assert "unknown runtime 'kubernetes': choose one of auto, docker, swarm, process" in (
        result.output
    )
    assert "(the config's runtime)" in result.output
