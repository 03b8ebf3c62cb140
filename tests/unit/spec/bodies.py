"""Valid job bodies the spec tests mutate (each test gets a fresh copy)."""

from __future__ import annotations

import copy
from typing import Any


def task_body(**changes: Any) -> dict[str, Any]:
    """A complete task on an existing cluster, every optional member present."""
    task: dict[str, Any] = {
        "Parameters": {
            "Command": {
                "CommandLine": "python3 worker.py",
                "PackagePath": "oss://bucket/pkg/worker.tar.gz",
                "EnvVars": {"FOO": "bar"},
            },
            "InputMappingConfig": {"Locale": "GBK", "Lock": False},
            "StdoutRedirectPath": "oss://bucket/logs/",
            "StderrRedirectPath": "oss://bucket/logs/",
        },
        "InputMapping": {"oss://bucket/in/": "/home/input/"},
        "OutputMapping": {"/home/output/": "oss://bucket/out/"},
        "LogMapping": {"/home/app.log": "oss://bucket/applogs/"},
        "InstanceCount": 1,
        "MaxRetryCount": 0,
        "Timeout": 600,
        "ClusterId": "cls-local",
    }
    task.update(changes)
    return task


def job_body(**changes: Any) -> dict[str, Any]:
    """A complete one-task job."""
    body: dict[str, Any] = {
        "Name": "job",
        "Description": "a job",
        "Priority": 1,
        "JobFailOnInstanceFail": True,
        "AutoRelease": False,
        "Type": "DAG",
        "DAG": {"Tasks": {"taskA": task_body()}, "Dependencies": {}},
    }
    body.update(changes)
    return copy.deepcopy(body)


def auto_cluster(**changes: Any) -> dict[str, Any]:
    """An AutoCluster as the official SDK sends it."""
    cluster: dict[str, Any] = {
        "ImageId": "img-ubuntu",
        "InstanceType": "ecs.sn1.medium",
        "ECSImageId": "",
        "UserData": {},
        "ReserveOnFail": False,
        "DependencyIsvService": "",
    }
    cluster.update(changes)
    return cluster
