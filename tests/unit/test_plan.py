"""The DAG, its levels and the per-task plan."""

from __future__ import annotations

from typing import Any

from localbatch.config import ClusterDefinition
from localbatch.plan import build_dag, instances, levels, plan_tasks
from localbatch.spec.model import parse_job
from tests.unit.spec.bodies import auto_cluster, job_body, task_body


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


def test_plan_tasks_names_type_image_and_upstream() -> None:
    docker = task_body()
    docker["Parameters"]["Command"]["Docker"] = {"Image": "python:3.12"}
    auto = task_body(
        ClusterId="", AutoCluster=auto_cluster(InstanceType="bcs.a2.large"), InstanceCount=4
    )
    plans = plan_tasks(
        job({"auto": ["docker", "cluster"]}, auto=auto, docker=docker, cluster=task_body()),
        {"cls-local": ClusterDefinition("cls-local", image_id="img-centos-vpc")},
    )
    by_name = {plan.name: plan for plan in plans}
    assert [plan.name for plan in plans] == ["auto", "cluster", "docker"]
    assert (by_name["auto"].instance_count, by_name["auto"].cpu_cores) == (4, 4)
    assert (by_name["auto"].image, by_name["auto"].image_source) == (
        "img-ubuntu",
        "AutoCluster.ImageId",
    )
    assert by_name["docker"].image == "python:3.12"
    assert by_name["cluster"].image == "img-centos-vpc"
    assert by_name["cluster"].instance_type == "ecs.sn1.medium"
    assert by_name["cluster"].upstream == ("auto",)


def test_unknown_cluster_is_said() -> None:
    (plan,) = plan_tasks(job({}, a=task_body()))
    assert plan.image == "" and "not defined in the config" in plan.image_source
    assert plan.instance_type == "" and plan.cpu_cores is None
