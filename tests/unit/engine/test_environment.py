"""What a program sees: argv, the BATCH_COMPUTE_* environment, image and instance type."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from localbatch.config import ClusterDefinition, Config
from localbatch.engine.capacity import HostCapacity
from localbatch.engine.environment import (
    CONTAINER_ENV,
    attempt_spec,
    split_command_line,
    task_environment,
)
from localbatch.spec.instance_types import GIB
from localbatch.spec.model import Job
from localbatch.storage.needs import package_view

HOST = HostCapacity(cpu_cores=16, memory_bytes=64 * GIB)
JobFactory = Callable[..., Job]
TaskFactory = Callable[..., dict[str, Any]]


def _env(job_factory: JobFactory, body: dict[str, Any], config: Config, oss: str = "") -> Any:
    job = job_factory({"t": body})
    return task_environment("job-1", job.tasks["t"], config, HOST, oss)


def test_command_line_is_split_into_words_not_run_by_a_shell() -> None:
    assert split_command_line("python3 main.py 'a b' $HOME") == (
        ("python3", "main.py", "a b", "$HOME"),
        "",
    )
    assert split_command_line("sh -c 'echo hi | wc -l'")[0] == ("sh", "-c", "echo hi | wc -l")
    words, error = split_command_line("python3 'open")
    assert words == () and "cannot be split" in error


def test_service_variables_and_task_env_vars(
    job_factory: JobFactory, task_factory: TaskFactory, config: Config
) -> None:
    body = task_factory()
    body["Parameters"]["Command"]["EnvVars"] = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "BATCH_COMPUTE_DAG_JOB_ID": "spoofed",
        "MINE": "1",
    }
    env = _env(job_factory, body, config, "10.0.0.1:8000")
    spec = attempt_spec(env, "job-1", 2, 1, needs=(package_view(Path("/w")),))
    e = spec.env
    assert e["BATCH_COMPUTE_DAG_JOB_ID"] == "job-1"
    assert e["BATCH_COMPUTE_DAG_TASK_ID"] == "t"
    assert e["BATCH_COMPUTE_DAG_INSTANCE_ID"] == "2"
    assert e["BATCH_COMPUTE_OSS_HOST"] == "10.0.0.1:8000"
    assert e["BATCH_COMPUTE_REGION"] == config.region
    assert e["BATCH_COMPUTE_CLUSTER_ID"] == "auto-job-1-t"
    assert e["BATCH_COMPUTE_WORKER_ID"].endswith("-t-2")
    assert e["PATH"] == "/usr/local/bin:/usr/bin:/bin" and e["MINE"] == "1"
    assert e["USER"] == "root" and e["HOME"] == "/root" and e["PWD"] == "/batchcompute/workdir"
    assert spec.labels == {
        "localbatch.job": "job-1",
        "localbatch.task": "t",
        "localbatch.instance": "2",
        "localbatch.attempt": "1",
    }


def test_documented_container_path_has_no_usr_local_bin() -> None:
    assert CONTAINER_ENV["PATH"] == "/sbin:/usr/sbin:/bin:/usr/bin"


def test_image_choice_order(
    job_factory: JobFactory, task_factory: TaskFactory, config: Config
) -> None:
    body = task_factory()
    assert _env(job_factory, body, config).image == config.images["img-ubuntu"]
    body["Parameters"]["Command"]["EnvVars"] = {"BATCH_COMPUTE_DOCKER_IMAGE": "env/image:1"}
    chosen = _env(job_factory, body, config)
    assert (chosen.image, chosen.image_source) == (
        "env/image:1",
        "EnvVars.BATCH_COMPUTE_DOCKER_IMAGE",
    )
    body["Parameters"]["Command"]["Docker"] = {"Image": "docker/image:2"}
    assert _env(job_factory, body, config).image == "docker/image:2"


def test_unmapped_image_id_uses_the_default_and_says_so(
    job_factory: JobFactory, task_factory: TaskFactory, config: Config
) -> None:
    body = task_factory(AutoCluster={"ImageId": "m-custom", "InstanceType": "bcs.a2.large"})
    env = _env(job_factory, body, config)
    assert env.image == config.default_docker_image
    assert env.instance_type == "bcs.a2.large"
    assert any("m-custom is not mapped" in n for n in env.notices)


def test_cluster_id_uses_the_local_cluster_definition(
    job_factory: JobFactory, task_factory: TaskFactory, config: Config
) -> None:
    defined = config.with_overrides(
        clusters={
            "cls-1": ClusterDefinition("cls-1", instance_type="bcs.a2.xlarge", docker_image="c:1")
        }
    )
    body = task_factory(ClusterId="cls-1")
    del body["AutoCluster"]
    env = _env(job_factory, body, defined)
    assert (env.image, env.instance_type, env.cluster_id) == ("c:1", "bcs.a2.xlarge", "cls-1")
    assert env.sizing.granted.cpu_cores == 8 and not env.notices
    unknown = task_factory(ClusterId="cls-unknown")
    del unknown["AutoCluster"]
    env = _env(job_factory, unknown, config)
    assert env.image == config.default_docker_image and env.instance_type == "ecs.sn1.medium"
    assert any("cluster cls-unknown is not defined" in n for n in env.notices)


def test_reserve_on_fail_keeps_failed_attempts(
    job_factory: JobFactory, task_factory: TaskFactory, config: Config
) -> None:
    body = task_factory(AutoCluster={"ImageId": "img-ubuntu", "ReserveOnFail": True})
    assert _env(job_factory, body, config).keep_on_failure


def test_the_engine_and_plan_choose_the_same_image_and_type(
    job_factory: JobFactory, task_factory: TaskFactory, config: Config
) -> None:
    from localbatch.plan import plan_tasks

    docker = task_factory(AutoCluster={"ImageId": "m-unmapped", "InstanceType": "bcs.a2.large"})
    docker["Parameters"]["Command"]["Docker"] = {"Image": "own/image:1"}
    job = job_factory(
        {
            "auto": task_factory(),
            "unmapped": task_factory(AutoCluster={"ECSImageId": "m-x", "InstanceType": "t"}),
            "docker": docker,
            "undefined": {**task_factory(ClusterId="cls-nowhere"), "AutoCluster": None},
        }
    )
    for plan in plan_tasks(job, config):
        env = task_environment("job-1", job.tasks[plan.name], config, HOST, "")
        chosen = (env.image, env.image_id, env.image_source, env.instance_type)
        assert chosen == (plan.docker_image, plan.image, plan.image_source, plan.instance_type)
        assert set(plan.notices) <= set(env.notices)
