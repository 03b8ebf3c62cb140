"""The job commands on a state directory, with no server running and through a server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from localbatch.cli import main
from localbatch.events import Event
from localbatch.runtime.fake import FakeStep
from localbatch.spec.model import parse_job
from localbatch.states import State
from localbatch.store import Store
from tests.unit.server.server_helpers import Api, make_body, start_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    started = start_api(tmp_path)
    yield started
    started.stack.close()


def _cli(tmp_path: Path, *args: str) -> Result:
    runner = CliRunner()
    env = {"LOCALBATCH_CONFIG": str(tmp_path / "none.toml")}
    return runner.invoke(
        main, [*args, "--state-dir", str(tmp_path / "state")], env=env, catch_exceptions=False
    )


def _finished_job(api: Api) -> str:
    api.runtime.script("split", FakeStep(exit_code=0, stdout="one\ntwo\n"))
    job_id = api.create(make_body(instances=2))
    api.wait_state(job_id, "Finished")
    return job_id


def test_jobs_and_status_read_the_store(api: Api, tmp_path: Path) -> None:
    job_id = _finished_job(api)
    api.stack.close()  # no server from here on

    listed = _cli(tmp_path, "jobs")
    assert listed.exit_code == 0 and job_id in listed.stdout and "Finished" in listed.stdout
    as_json = json.loads(_cli(tmp_path, "jobs", "--json", "--state", "finished").stdout)
    assert [item["Id"] for item in as_json["Items"]] == [job_id]
    assert json.loads(_cli(tmp_path, "jobs", "--json", "--state", "running").stdout)["Items"] == []

    status = _cli(tmp_path, "status", job_id)
    assert "split" in status.stdout and "merge" in status.stdout
    task = json.loads(_cli(tmp_path, "status", job_id, "split", "--json").stdout)
    assert [i["InstanceId"] for i in task["Instances"]] == [0, 1]
    one = json.loads(_cli(tmp_path, "status", job_id, "split", "1", "--json").stdout)
    assert one["State"] == "Finished" and one["Attempts"][0]["ExitCode"] == 0
    assert "RETRIES" in _cli(tmp_path, "status", job_id, "split").stdout
    attempts = _cli(tmp_path, "status", job_id, "split", "1").stdout
    assert "ATTEMPT" in attempts and "stdout path" in attempts
    missing = _cli(tmp_path, "status", "job-nope")
    assert missing.exit_code == 2 and "InvalidResource.NotFound" in missing.stderr


def test_logs_prefix_every_line(api: Api, tmp_path: Path) -> None:
    job_id = _finished_job(api)
    out = _cli(tmp_path, "logs", job_id, "split").stdout.splitlines()
    assert [line for line in out if " | " in line] == [
        "split.0 | one",
        "split.0 | two",
        "split.1 | one",
        "split.1 | two",
    ]
    assert _cli(tmp_path, "logs", job_id, "split", "1").stdout.splitlines() == [
        "split.1 ---- attempt 0 ----",
        "split.1 | one",
        "split.1 | two",
        "split.1 ---- attempt 0 ended Finished (exit code 0) ----",
    ]
    empty = _cli(tmp_path, "logs", job_id, "--stderr")
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert empty.stderr == f"no stderr recorded (yet) for job {job_id}\n"


def test_logs_of_an_instance_that_does_not_exist_is_not_found(api: Api, tmp_path: Path) -> None:
    job_id = _finished_job(api)
    result = _cli(tmp_path, "logs", job_id, "split", "7")
    assert result.exit_code == 2
    assert f"InvalidResource.NotFound: Specified resource {job_id}/split/7" in result.stderr


def test_changes_go_through_the_running_server(api: Api, tmp_path: Path) -> None:
    api.runtime.script("split", FakeStep(hang=True))
    job_id = api.create(make_body())
    conflict = _cli(tmp_path, "delete", job_id)
    assert conflict.exit_code == 1 and "StateConflict" in conflict.stderr
    assert _cli(tmp_path, "stop", job_id).exit_code == 0
    api.wait_state(job_id, "Stopped")
    assert _cli(tmp_path, "priority", job_id, "77").exit_code == 0
    assert api.request("GET", f"/jobs/{job_id}").body["Priority"] == 77
    bad = _cli(tmp_path, "priority", job_id, "5000")
    assert bad.exit_code == 1 and "InvalidPriority" in bad.stderr
    api.runtime.script("split", FakeStep(exit_code=0))
    assert _cli(tmp_path, "start", job_id).exit_code == 0
    api.wait_state(job_id, "Finished")
    assert _cli(tmp_path, "delete", job_id).exit_code == 0
    assert api.request("GET", f"/jobs/{job_id}").status == 404


def test_submit_hands_a_file_to_the_server(api: Api, tmp_path: Path) -> None:
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(make_body(name="from-file")))
    submitted = _cli(tmp_path, "submit", str(job_file))
    assert submitted.exit_code == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert api.wait_state(job_id, "Finished")["Name"] == "from-file"
    job_file.write_text(json.dumps(make_body(name="9bad")))
    refused = _cli(tmp_path, "submit", str(job_file))
    assert refused.exit_code == 1 and "InvalidName" in refused.stderr


def test_submit_sends_any_token_as_one_query_value(api: Api, tmp_path: Path) -> None:
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(make_body()))
    token = "a&b=c d/é?"
    first = _cli(tmp_path, "submit", str(job_file), "--token", token)
    assert first.exit_code == 0, first.stderr
    job_id = first.stdout.strip()
    assert api.stack.store.job_for_token(token) is not None
    again = _cli(tmp_path, "submit", str(job_file), "--token", token)
    assert again.stdout.strip() == job_id


def test_without_a_server_changes_apply_to_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state")
    # What a server killed in the middle of a job leaves: a Running job of a dead runner.
    store.create_job("job-1", parse_job(make_body()), created=1.0, runner="999999999:1.000")
    store.on_event(Event("OnJobRunning", "job-1", State.RUNNING, 2.0, "Job", start_time=2.0))
    store.on_event(
        Event("OnInstanceRunning", "job-1", State.RUNNING, 2.0, "Instance", "split", 0, 2.0)
    )
    store.close()

    submit = _cli(tmp_path, "submit", "-")
    assert submit.exit_code != 0 and "no `localbatch serve`" in submit.stderr
    listed = _cli(tmp_path, "jobs")
    assert "Running (runner gone)" in listed.stdout
    assert _cli(tmp_path, "priority", "job-1", "3").exit_code == 1  # Running: 409
    assert _cli(tmp_path, "stop", "job-1").exit_code == 0
    status = json.loads(_cli(tmp_path, "status", "job-1", "--json").stdout)
    assert status["State"] == "Stopped"
    assert {t["State"] for t in status["Tasks"]} == {"Stopped"}
    assert status["InstanceMetrics"]["StoppedCount"] == 3
    assert _cli(tmp_path, "priority", "job-1", "3").exit_code == 0
    assert json.loads(_cli(tmp_path, "status", "job-1", "--json").stdout)["Priority"] == 3
    assert _cli(tmp_path, "delete", "job-1").exit_code == 0
    assert json.loads(_cli(tmp_path, "jobs", "--json").stdout)["Items"] == []


def test_logs_follow_until_the_job_ends(api: Api, tmp_path: Path) -> None:
    gate = threading.Event()
    api.runtime.script("split", FakeStep(exit_code=0, gate=gate, stdout="working\n"))
    job_id = api.create(make_body(instances=1))
    api.runtime.wait_running(1)
    results: list[Result] = []
    follower = threading.Thread(
        target=lambda: results.append(_cli(tmp_path, "logs", job_id, "-f")), daemon=True
    )
    follower.start()
    follower.join(1.0)
    assert follower.is_alive()  # the job still runs: -f keeps following
    gate.set()
    follower.join(30)
    assert not follower.is_alive()
    assert "split.0 | working" in results[0].stdout.splitlines()


def test_logs_tell_attempts_apart_and_show_one(api: Api, tmp_path: Path) -> None:
    api.runtime.script("split", FakeStep(exit_code=3, stdout="try 0\n"), attempt=0)
    api.runtime.script("split", FakeStep(exit_code=0, stdout="try 1\n"), attempt=1)
    body = make_body(instances=1)
    body["DAG"]["Tasks"]["split"]["MaxRetryCount"] = 1
    job_id = api.create(body)
    api.wait_state(job_id, "Finished")
    assert _cli(tmp_path, "logs", job_id, "split", "0").stdout.splitlines() == [
        "split.0 ---- attempt 0 ----",
        "split.0 | try 0",
        "split.0 ---- attempt 0 ended Failed (exit code 3) ----",
        "split.0 ---- attempt 1 ----",
        "split.0 | try 1",
        "split.0 ---- attempt 1 ended Finished (exit code 0) ----",
    ]
    second = _cli(tmp_path, "logs", job_id, "split", "--attempt", "1").stdout.splitlines()
    assert [line for line in second if " | " in line] == ["split.0 | try 1"]
    missing = _cli(tmp_path, "logs", job_id, "split", "0", "--attempt", "0", "--run", "4")
    assert (missing.exit_code, missing.stdout) == (0, "")
    assert (
        missing.stderr == f"no stdout recorded (yet) for {job_id} task split instance 0 attempt 0\n"
    )
    alone = _cli(tmp_path, "logs", job_id, "--run", "0")
    assert alone.exit_code == 2 and "--run goes with --attempt" in alone.stderr
    # The log file itself holds only what the program wrote.
    assert (tmp_path / "oss" / "bucket" / "logs" / f"stdout.{job_id}.split.0").read_text() == (
        "try 0\ntry 1\n"
    )


def _follow(tmp_path: Path, *args: str) -> tuple[threading.Thread, list[Result]]:
    results: list[Result] = []
    follower = threading.Thread(
        target=lambda: results.append(_cli(tmp_path, "logs", *args, "-f")), daemon=True
    )
    follower.start()
    return follower, results


def test_logs_follow_of_an_instance_ends_with_it_and_exits_3_when_it_failed(
    api: Api, tmp_path: Path
) -> None:
    gates = {0: threading.Event(), 1: threading.Event()}
    for instance, gate in gates.items():
        step = FakeStep(exit_code=instance, gate=gate, stdout=f"i{instance}\n")
        api.runtime.script("split", step, instance=instance)
    job_id = api.create(make_body(instances=2, JobFailOnInstanceFail=False))
    api.runtime.wait_running(2)
    first, first_result = _follow(tmp_path, job_id, "split", "0")
    first.join(1.0)
    assert first.is_alive()
    gates[0].set()
    first.join(30)  # split.0 ended: following it ends, though split.1 still runs
    assert not first.is_alive() and first_result[0].exit_code == 0
    assert "split.0 ---- attempt 0 ended Finished (exit code 0) ----" in first_result[0].stdout
    assert api.request("GET", f"/jobs/{job_id}").body["State"] == "Running"
    failing, failing_result = _follow(tmp_path, job_id, "split", "1")
    failing.join(1.0)
    gates[1].set()
    failing.join(30)
    assert failing_result[0].exit_code == 3  # the instance failed
    assert "split.1 | i1" in failing_result[0].stdout
    api.wait_state(job_id, "Finished")
    assert _cli(tmp_path, "logs", job_id, "-f").exit_code == 0  # the job tolerates failures


def test_logs_follow_exits_3_when_the_job_failed(api: Api, tmp_path: Path) -> None:
    gate = threading.Event()
    api.runtime.script("split", FakeStep(exit_code=4, gate=gate))
    job_id = api.create(make_body(instances=1))
    api.runtime.wait_running(1)
    follower, results = _follow(tmp_path, job_id)
    gate.set()
    follower.join(30)
    assert results[0].exit_code == 3
    assert _cli(tmp_path, "logs", job_id).exit_code == 0  # not following: nothing to await


@pytest.mark.parametrize(
    "args",
    [
        ["jobs"],
        ["status", "job-1"],
        ["logs", "job-1"],
        ["stop", "job-1"],
        ["delete", "job-1"],
        ["priority", "job-1", "3"],
        ["start", "job-1", "--runtime", "process"],
    ],
)
def test_unusable_state_dir_is_one_clear_line(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "a-file").write_text("")
    state = tmp_path / "a-file" / "state"
    env = {"LOCALBATCH_CONFIG": str(tmp_path / "none.toml")}
    result = CliRunner().invoke(main, [*args, "--state-dir", str(state)], env=env)
    assert result.exit_code == 2, result.output
    assert f"localbatch: cannot use the state directory {state}: Not a directory" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_state_dir_with_a_broken_database_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "localbatch.db").write_text("not a database")
    result = _cli(tmp_path, "jobs")
    assert result.exit_code == 2
    assert result.stderr.endswith(": file is not a database\n")


@pytest.mark.parametrize(("url", "why"), [("nonsense", "not an http://"), ("http://", "no host")])
def test_submit_url_must_be_an_http_address(tmp_path: Path, url: str, why: str) -> None:
    job = tmp_path / "job.json"
    job.write_text(json.dumps(make_body()))
    result = CliRunner().invoke(main, ["submit", str(job), "--url", url])
    assert result.exit_code == 2
    assert why in result.stderr


def test_submit_of_a_broken_file_says_where_it_breaks(tmp_path: Path) -> None:
    job = tmp_path / "job.json"
    job.write_text('{"Name": "x",\n  oops}')
    result = CliRunner().invoke(main, ["submit", str(job), "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{job}: line 2 column 3: Expecting property name enclosed in double quotes",
        "localbatch: InvalidJsonFormat: The request body has an invalid json format.",
    ]


def test_no_jobs_is_said_rather_than_a_bare_header(tmp_path: Path) -> None:
    result = _cli(tmp_path, "jobs", "--state", "running")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"no running jobs in {tmp_path / 'state'}\n"


def _stored_jobs(tmp_path: Path, *job_ids: str) -> None:
    store = Store.open(tmp_path / "state")
    for created, job_id in enumerate(job_ids):
        store.create_job(job_id, parse_job(make_body()), created=float(created), runner="1:1.0")
    store.close()


FIRST = "job-AB000000000000000000000000000001"
SECOND = "job-AB000000000000000000000000000002"
NEWEST = "job-CD000000000000000000000000000003"


@pytest.mark.parametrize("typed", ["last", "cd", "job-cd0", "CD00000", NEWEST])
def test_a_job_is_named_by_last_or_a_unique_prefix(tmp_path: Path, typed: str) -> None:
    _stored_jobs(tmp_path, FIRST, SECOND, NEWEST)
    shown = _cli(tmp_path, "status", typed, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["Id"] == NEWEST


def test_an_ambiguous_prefix_lists_the_candidates(tmp_path: Path) -> None:
    _stored_jobs(tmp_path, FIRST, SECOND, NEWEST)
    result = _cli(tmp_path, "delete", "ab")
    assert result.exit_code == 2
    assert result.stderr == (
        f"localbatch: 'ab' matches 2 jobs: {SECOND}, {FIRST}; type more of the id\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["status", "ef"],
        ["logs", "ef"],
        ["stop", "ef"],
        ["delete", "ef"],
        ["priority", "ef", "3"],
        ["start", "ef", "--runtime", "process"],
        ["status", "last"],
    ],
)
def test_an_unknown_job_exits_2_everywhere(tmp_path: Path, args: list[str]) -> None:
    if args[1] != "last":
        _stored_jobs(tmp_path, FIRST)
    result = _cli(tmp_path, *args)
    assert result.exit_code == 2
    assert f"InvalidResource.NotFound: Specified resource {args[1]} is not found." in result.stderr


def test_changes_print_json(api: Api, tmp_path: Path) -> None:
    api.runtime.script("split", FakeStep(hang=True))
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(make_body(name="scripted")))
    submitted = _cli(tmp_path, "submit", str(job_file), "--json")
    job_id = json.loads(submitted.stdout)["Id"]
    api.runtime.wait_running(1)
    stopped = json.loads(_cli(tmp_path, "stop", "last", "--json").stdout)
    assert (stopped["Id"], stopped["State"]) == (job_id, "Stopped")
    priority = json.loads(_cli(tmp_path, "priority", job_id[:8], "9", "--json").stdout)
    assert (priority["Id"], priority["Priority"]) == (job_id, 9)
    api.runtime.script("split", FakeStep(exit_code=0))
    started = json.loads(_cli(tmp_path, "start", "last", "--json").stdout)
    assert started["Id"] == job_id and started["State"] in ("Waiting", "Running", "Finished")
    api.wait_state(job_id, "Finished")
    deleted = _cli(tmp_path, "delete", job_id, "--json")
    assert json.loads(deleted.stdout) == {"Id": job_id, "Deleted": True}
    assert deleted.stderr == f"{job_id}: deleted\n"


def test_options_may_come_before_the_command(tmp_path: Path) -> None:
    _stored_jobs(tmp_path, FIRST)
    env = {"LOCALBATCH_CONFIG": str(tmp_path / "none.toml")}
    before = CliRunner().invoke(
        main, ["--state-dir", str(tmp_path / "state"), "jobs", "--json"], env=env
    )
    assert [job["Id"] for job in json.loads(before.stdout)["Items"]] == [FIRST]
    # After the command wins.
    elsewhere = ["--state-dir", str(tmp_path / "state"), "jobs", "--state-dir", str(tmp_path / "b")]
    assert "no jobs in" in CliRunner().invoke(main, elsewhere, env=env).stderr
