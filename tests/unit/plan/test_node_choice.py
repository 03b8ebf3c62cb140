"""The one answer to "which image and instance type": rules, fallbacks and their notices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localbatch.config import DEFAULT_DOCKER_IMAGE, ClusterDefinition, Config, load_config
from localbatch.plan.node_choice import NodeChoice, choose_node, describe_image
from localbatch.spec.model import parse_job
from tests.unit.spec.bodies import auto_cluster, job_body, task_body


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_config(tmp_path / "none.toml", env={}, state_dir=tmp_path).with_overrides(
        images={"img-ubuntu": "local/ubuntu:1", "m-mapped": "local/mapped:2"},
        clusters={
            "cls-image": ClusterDefinition("cls-image", image_id="m-mapped", instance_type="a"),
            "cls-docker": ClusterDefinition("cls-docker", docker_image="c:1", instance_type="b"),
            "cls-lost": ClusterDefinition("cls-lost", image_id="m-lost", instance_type="c"),
        },
    )


def choose(config: Config, docker_image: str = "", **task: Any) -> NodeChoice:
    body = task_body(**task)
    if docker_image:
        body["Parameters"]["Command"]["Docker"] = {"Image": docker_image}
    job = parse_job(job_body(DAG={"Tasks": {"t": body}, "Dependencies": {}}))
    return choose_node(job.tasks["t"], config)


def auto(**fields: Any) -> dict[str, Any]:
    return {"ClusterId": "", "AutoCluster": auto_cluster(**fields)}


def test_auto_cluster_image_ids_are_mapped(config: Config) -> None:
    assert choose(config, **auto()) == NodeChoice(
        "img-ubuntu", "AutoCluster.ImageId", "local/ubuntu:1", "ecs.sn1.medium", ()
    )
    ecs = choose(config, **auto(ImageId="", ECSImageId="m-mapped", InstanceType="bcs.a2.large"))
    assert (ecs.image_source, ecs.docker_image, ecs.instance_type) == (
        "AutoCluster.ECSImageId",
        "local/mapped:2",
        "bcs.a2.large",
    )


def test_an_unmapped_image_id_uses_the_default_image_and_says_so(config: Config) -> None:
    chosen = choose(config, **auto(ImageId="m-unknown"))
    assert chosen.docker_image == DEFAULT_DOCKER_IMAGE
    assert len(chosen.notices) == 1 and "m-unknown is not mapped" in chosen.notices[0]
    lost = choose(config, ClusterId="cls-lost")
    assert (lost.docker_image, lost.instance_type) == (DEFAULT_DOCKER_IMAGE, "c")
    assert "m-lost is not mapped" in lost.notices[0]


def test_defined_clusters_give_their_image_and_type(config: Config) -> None:
    mapped = choose(config, ClusterId="cls-image")
    assert (mapped.image_id, mapped.image_source, mapped.docker_image) == (
        "m-mapped",
        "[clusters.cls-image]",
        "local/mapped:2",
    )
    assert mapped.instance_type == "a" and mapped.notices == ()
    docker = choose(config, ClusterId="cls-docker", AutoCluster=auto_cluster(InstanceType="x"))
    assert (docker.docker_image, docker.instance_type) == ("c:1", "b")


def test_an_undefined_cluster_uses_both_defaults_in_one_notice(config: Config) -> None:
    chosen = choose(config, ClusterId="cls-nowhere")
    assert (chosen.image_id, chosen.docker_image, chosen.instance_type) == (
        "",
        DEFAULT_DOCKER_IMAGE,
        "ecs.sn1.medium",
    )
    (notice,) = chosen.notices
    assert "cls-nowhere is not defined" in notice
    assert "image localbatch" in notice and "instance type ecs.sn1.medium" in notice


def test_a_named_docker_image_wins_and_silences_image_notices(config: Config) -> None:
    unmapped = choose(config, docker_image="own:1", **auto(ImageId="m-unknown", InstanceType="t"))
    assert unmapped == NodeChoice("own:1", "Command.Docker.Image", "own:1", "t", ())
    undefined = choose(config, docker_image="own:1", ClusterId="cls-nowhere")
    (notice,) = undefined.notices
    assert "instance type ecs.sn1.medium" in notice and "image" not in notice.split("using")[1]
    env = task_body(ClusterId="cls-image")
    env["Parameters"]["Command"]["EnvVars"] = {"BATCH_COMPUTE_DOCKER_IMAGE": "env:2"}
    job = parse_job(job_body(DAG={"Tasks": {"t": env}, "Dependencies": {}}))
    by_env = choose_node(job.tasks["t"], config)
    assert (by_env.docker_image, by_env.image_source, by_env.instance_type) == (
        "env:2",
        "EnvVars.BATCH_COMPUTE_DOCKER_IMAGE",
        "a",
    )


def test_a_registry_image_names_its_oss_path(config: Config) -> None:
    body = task_body(ClusterId="cls-image")
    body["Parameters"]["Command"]["EnvVars"] = {
        "BATCH_COMPUTE_DOCKER_IMAGE": "localhost:5000/team/app:2",
        "BATCH_COMPUTE_DOCKER_REGISTRY_OSS_PATH": "oss://bucket/dockers/",
    }
    job = parse_job(job_body(DAG={"Tasks": {"t": body}, "Dependencies": {}}))
    chosen = choose_node(job.tasks["t"], config)
    assert describe_image(chosen.docker_image, chosen.image_id, chosen.image_source) == (
        "localhost:5000/team/app:2 (EnvVars.BATCH_COMPUTE_DOCKER_IMAGE, from the registry at "
        "oss://bucket/dockers/)"
    )


def test_description_names_the_image_id_only_when_it_was_mapped() -> None:
    assert describe_image("l:1", "img-ubuntu", "AutoCluster.ImageId") == (
        "l:1 (AutoCluster.ImageId img-ubuntu)"
    )
    assert (
        describe_image("own:1", "own:1", "Command.Docker.Image") == "own:1 (Command.Docker.Image)"
    )
