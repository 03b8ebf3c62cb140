"""`localbatch validate`, `plan` and `schema` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from localbatch.cli import main
from tests.unit.spec.bodies import job_body

LOGCOUNT = Path(__file__).parents[3] / "examples" / "logcount" / "job.json"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALBATCH_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("JOB_COUNT", "JOB_TASK_COUNT", "TASK_INSTANCE_COUNT", "INSTANCE_TIMEOUT"):
        monkeypatch.delenv(f"LOCALBATCH_MAX_{name}", raising=False)


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env=env)


def write(tmp_path: Path, body: Any) -> str:
    path = tmp_path / "job.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return str(path)


def test_valid_file(tmp_path: Path) -> None:
    result = run("validate", write(tmp_path, job_body()))
    assert result.exit_code == 0
    assert result.stdout.endswith("valid job job (1 task)\n")


def test_every_error_one_line_in_order(tmp_path: Path) -> None:
    result = run("validate", write(tmp_path, job_body(Name=5, Priority=2000)))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "400 InvalidName: Specified parameter Name is not valid. Its type must be string. "
        "(at Name)",
        "  hint: expected a string, got an integer 5",
        "400 InvalidPriority: Specified parameter Priority is not valid. It must be in "
        "[0, 1000]. (at Priority)",
        "  hint: got 2000",
    ]


def test_json_report(tmp_path: Path) -> None:
    result = run("validate", "--json", write(tmp_path, job_body(Name="", Extra=1)))
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "errors": [
            {
                "HttpStatus": 400,
                "Code": "InvalidName",
                "Message": "Specified parameter Name is not valid. Its length must be in [1, 64].",
                "Path": "Name",
                "Hint": "0 characters",
            }
        ],
        "warnings": ["Extra: unknown field, kept but not used"],
    }


def test_warnings_go_to_stderr(tmp_path: Path) -> None:
    result = run("validate", write(tmp_path, job_body(Extra=1)))
    assert result.exit_code == 0
    assert result.stderr == "warning: Extra: unknown field, kept but not used\n"


def test_stdin() -> None:
    result = run("validate", "-", stdin=json.dumps(job_body()))
    assert result.exit_code == 0
    result = run("validate", "-", stdin="{nope")
    assert (result.exit_code, result.stdout) == (
        1,
        "400 InvalidJsonFormat: The request body has an invalid json format.\n",
    )


def test_non_object_body(tmp_path: Path) -> None:
    result = run("validate", "--json", write(tmp_path, "[1]"))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["errors"][0]["Code"] == "InvalidHttpBody"


def test_unreadable_file_and_bad_usage(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "missing.json"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
    assert run("validate").exit_code == 2
    assert run("validate", "--bogus", "x").exit_code == 2


def test_quotas_come_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, LOGCOUNT.read_text())
    result = run("validate", path, env={"LOCALBATCH_MAX_JOB_TASK_COUNT": "2"})
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "403 QuotaExhausted.MaxJobTaskCount: The MaxJobTaskCount (2) quota is exhausted."
    )


def test_quotas_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[quotas]\nMaxTaskInstanceCount = 2\n")
    result = run("validate", "--config", str(config), str(LOGCOUNT))
    assert result.exit_code == 1
    assert "QuotaExhausted.MaxTaskInstanceCount" in result.stdout


def test_plan_prints_levels() -> None:
    result = run("plan", "--no-preflight", "--oversubscribe", "--max-parallel", "3", str(LOGCOUNT))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "job logcount: 3 tasks, 5 instances"
    assert [line for line in lines if line.startswith("level")] == ["level 0", "level 1", "level 2"]
    count = lines.index("level 1") + 1
    assert lines[count : count + 3] == [
        "  count: 3 instances of ecs.sn1.medium (2 cores, 4 GiB) on AutoCluster, after split",
        "    image localbatch/bookworm-python:2 (AutoCluster.ImageId img-ubuntu)",
        "    timeout 300s, MaxRetryCount 1",
    ]
    assert lines[count + 3].startswith(
        "    at once: 3 at a time: --oversubscribe up to --max-parallel 3; each in its own "
    )
    assert max(len(line) for line in lines) <= 100  # readable on a terminal, no wrapping


def test_plan_shows_the_local_image_and_the_fallbacks_run_would_take(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[images]\nimg-ubuntu = "my/ubuntu:1"\n')
    result = run("plan", "--no-preflight", "--config", str(config), str(LOGCOUNT))
    assert result.exit_code == 0
    assert "\n    image my/ubuntu:1 (AutoCluster.ImageId img-ubuntu)\n" in result.stdout
    undefined = run("plan", "--no-preflight", write(tmp_path, job_body()))
    assert (
        "image localbatch/bookworm-python:2 (ClusterId cls-local, not defined" in undefined.stdout
    )
    assert "    note: task taskA: cluster cls-local is not defined" in undefined.stdout


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{\n  "Name": "x",\n  "DAG": {,}\n}', "line 3 column 11: Expecting property name"),
        ('{"Name": NaN}', "NaN is not JSON"),
    ],
)
def test_invalid_json_says_where_it_breaks(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path, text)
    for command in ("validate", "plan"):
        result = run(command, path)
        assert result.exit_code == 1
        assert result.stdout.startswith("400 InvalidJsonFormat:")
        assert result.stderr.startswith(f"{path}: {where}")


def test_plan_json() -> None:
    result = run("plan", "--json", "--no-preflight", "--oversubscribe", str(LOGCOUNT))
    plans = json.loads(result.stdout)
    assert {p["at_once_reason"].split(" ")[0] for p in plans} == {"--oversubscribe"}
    assert all(p["problems"] == [] for p in plans)
    assert [(p["name"], p["level"], p["instance_count"]) for p in plans] == [
        ("split", 0, 1),
        ("count", 1, 3),
        ("merge", 2, 1),
    ]


def test_plan_of_an_invalid_job(tmp_path: Path) -> None:
    body = job_body()
    body["DAG"]["Dependencies"] = {"taskA": ["taskA"]}
    result = run("plan", write(tmp_path, body))
    assert (result.exit_code, result.stdout) == (
        1,
        "400 BadDAG: It is a cyclic dag. (at DAG.Dependencies)\n  hint: cycle: taskA -> taskA\n",
    )


def test_schema() -> None:
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["required"] == ["Name", "Type", "DAG"]


def test_strict_makes_a_misspelt_key_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, job_body(JobFailOnInstanceFial=True))
    lenient = run("validate", path)
    assert lenient.exit_code == 0
    assert "did you mean JobFailOnInstanceFail?" in lenient.stderr
    strict = run("validate", "--strict", path)
    assert strict.exit_code == 1
    assert strict.stdout.splitlines() == [
        "400 UnknownField: JobFailOnInstanceFial is not a known field. (at JobFailOnInstanceFial)",
        "  hint: did you mean JobFailOnInstanceFail?",
    ]


def test_json_gives_the_hint_and_where_the_json_breaks(tmp_path: Path) -> None:
    result = run("validate", "--json", write(tmp_path, '{"Name": "x",\n "Type": }'))
    assert result.exit_code == 1
    (error,) = json.loads(result.stdout)["errors"]
    assert (error["Code"], error["Hint"]) == (
        "InvalidJsonFormat",
        "line 2 column 10: Expecting value",
    )
    plain = run("validate", write(tmp_path, '{"Name": "x",\n "Type": }'))
    assert plain.stderr.endswith("job.json: line 2 column 10: Expecting value\n")
    assert "hint" not in plain.stdout  # said once, on stderr


def test_schema_strict_refuses_unknown_members() -> None:
    import jsonschema

    lenient = json.loads(run("schema").stdout)
    strict = json.loads(run("schema", "--strict").stdout)
    assert strict["additionalProperties"] is False and "additionalProperties" not in lenient
    typo = json.loads(LOGCOUNT.read_text())
    assert jsonschema.Draft202012Validator(strict).is_valid(typo)
    typo["DAG"]["Tasks"]["split"]["InstanceCont"] = 1
    assert jsonschema.Draft202012Validator(lenient).is_valid(typo)
    assert not jsonschema.Draft202012Validator(strict).is_valid(typo)


def test_plan_names_the_nearest_instance_types(tmp_path: Path) -> None:
    body = json.loads(LOGCOUNT.read_text())
    body["DAG"]["Tasks"]["count"]["AutoCluster"]["InstanceType"] = "ecs.sn1.medum"
    result = run("plan", "--no-preflight", write(tmp_path, body))
    assert result.exit_code == 0
    assert (
        "    note: task count: instance type 'ecs.sn1.medum' is not in the instance type table "
        "(nearest: ecs.sn1.medium" in result.stdout
    )
    assert "(nearest: ecs.sn1.medium" in result.stderr  # validate's warning too
