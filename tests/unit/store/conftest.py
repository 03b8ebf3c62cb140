from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localbatch.spec.model import Job, parse_job
from localbatch.store import Store

JobFactory = Callable[..., Job]


def _body(name: str = "demo", instances: int = 2, **extra: Any) -> dict[str, Any]:
    task = {
        "InstanceCount": instances,
        "MaxRetryCount": 1,
        "Parameters": {"Command": {"CommandLine": "python main.py"}},
        "AutoCluster": {"ImageId": "img-ubuntu", "InstanceType": "ecs.sn1.medium"},
    }
    body: dict[str, Any] = {
        "Name": name,
        "Type": "DAG",
        "Priority": 1,
        "DAG": {
            "Tasks": {"split": task, "merge": {**task, "ClusterId": "cls-1"}},
            "Dependencies": {"split": ["merge"]},
        },
    }
    body.update(extra)
    return body


@pytest.fixture
def make_job() -> JobFactory:
    def factory(name: str = "demo", instances: int = 2, **extra: Any) -> Job:
        return parse_job(_body(name, instances, **extra))

    return factory


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state")
    yield opened
    opened.close()
