"""The DAG, its levels and the per-task plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localbatch.config import DEFAULT_DOCKER_IMAGE, ClusterDefinition, Config, load_config
from localbatch.plan import build_dag, instances, levels, plan_tasks
from localbatch.spec.model import parse_job
from tests.unit.spec.bodies import auto_cluster, job_body, task_body


def config(tmp_path: Path, **changes: Any) -> Config:
    return load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path).with_overrides(**changes)


def job(dependencies: dict[str, list[str]], **tasks: Any) -> Any:
    return parse_job(job_body(DAG={"Tasks": tasks, "Dependencies": dependencies}))


def test_levels_follow_dependencies() -> None:
    fan = job(
        {"split": ["c2", "c1"], "c1": ["merge"], "c2": ["merge"]},
        merge=task_body(),
        c2=task_body(),
        c1=task_body(),
        split=task_body(),
        alone=task_body(),
    )
    assert levels(fan) == [["alone", "split"], ["c1", "c2"], ["merge"]]
    graph = build_dag(fan)
    assert set(graph.successors("split")) == {"c1", "c2"}
    assert graph.nodes["merge"]["task"].name == "merge"


def test_instances_in_execution_order() -> None:
    chain = job({"a": ["b"]}, b=task_body(InstanceCount=1), a=task_body(InstanceCount=2))
    assert instances(chain) == [("a", 0), ("a", 1), ("b", 0)]


def test_plan_tasks_names_type_image_and_upstream(tmp_path: Path) -> None:
    docker = task_body()
    docker["Parameters"]["Command"]["Docker"] = {"Image": "python:3.12"}
    auto = task_body(
        ClusterId="", AutoCluster=auto_cluster(InstanceType="bcs.a2.large"), InstanceCount=4
    )
    plans = plan_tasks(
        job({"auto": ["docker", "cluster"]}, auto=auto, docker=docker, cluster=task_body()),
        config(
            tmp_path,
            clusters={"cls-local": ClusterDefinition("cls-local", image_id="img-centos-vpc")},
        ),
    )
    by_name = {plan.name: plan for plan in plans}
    assert [plan.name for plan in plans] == ["auto", "cluster", "docker"]
    assert (by_name["auto"].instance_count, by_name["auto"].cpu_cores) == (4, 4)
    assert (by_name["auto"].image, by_name["auto"].image_source) == (
        "img-ubuntu",
        "AutoCluster.ImageId",
    )
    assert by_name["auto"].docker_image == DEFAULT_DOCKER_IMAGE
    assert by_name["docker"].image == by_name["docker"].docker_image == "python:3.12"
    assert by_name["cluster"].image == "img-centos-vpc"
    assert by_name["cluster"].docker_image == DEFAULT_DOCKER_IMAGE
    assert by_name["cluster"].instance_type == "ecs.sn1.medium"
    assert by_name["cluster"].upstream == ("auto",)


def test_unknown_cluster_is_said_with_the_defaults_run_would_use(tmp_path: Path) -> None:
    (plan,) = plan_tasks(job({}, a=task_body()), config(tmp_path))
    assert plan.image == "" and "not defined in the config" in plan.image_source
    assert (plan.docker_image, plan.instance_type) == (DEFAULT_DOCKER_IMAGE, "ecs.sn1.medium")
    assert plan.notices and "cluster cls-local is not defined" in plan.notices[0]


def test_plan_shows_the_mapped_local_image(tmp_path: Path) -> None:
    mapped = config(tmp_path, images={"m-custom": "my/custom:2"})
    task = task_body(ClusterId="", AutoCluster=auto_cluster(ImageId="m-custom"))
    (plan,) = plan_tasks(job({}, a=task), mapped)
    assert (plan.image, plan.docker_image, plan.notices) == ("m-custom", "my/custom:2", ())
