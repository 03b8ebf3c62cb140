"""Fields with no local meaning are listed once per run, never dropped silently."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localbatch.config import Config
from localbatch.engine.not_emulated import not_emulated
from localbatch.spec.model import Job


def test_each_field_is_reported_once_with_its_tasks(
    job_factory: Callable[..., Job], task_factory: Callable[..., dict[str, Any]], config: Config
) -> None:
    auto = {
        "ImageId": "img-ubuntu",
        "InstanceType": "ecs.sn1.medium",
        "ResourceType": "Spot",
        "SpotStrategy": "SpotWithPriceLimit",
        "SpotPriceLimit": 0.5,
        "UserData": {"k": "v"},
        "Configs": {
            "Networks": {"VPC": {"CidrBlock": "10.0.0.0/8"}},
            "Disks": {"SystemDisk": {"Type": "cloud_efficiency", "Size": 40}},
        },
    }
    fancy = task_factory(AutoCluster=auto)
    fancy["Parameters"]["InputMappingConfig"] = {"Locale": "GBK", "Lock": True}
    job = job_factory(
        {"a": fancy, "b": task_factory(AutoCluster=dict(auto)), "plain": task_factory()},
        Notification={
            "Topic": {"Name": "t", "Endpoint": "http://mns", "Events": ["OnJobFinished"]}
        },
    )
    notices = not_emulated(job, config)
    text = "\n".join(notices)
    assert "Networks (tasks a, b)" in text
    assert "SpotPriceLimit (tasks a, b)" in text
    assert "UserData (tasks a, b)" in text
    assert "SystemDisk (tasks a, b)" in text
    assert "InputMappingConfig.Lock (tasks a)" in text
    assert "Notification.Topic" in text
    assert "plain" not in text
    assert len(notices) == len(set(notices))


def test_a_plain_job_has_nothing_to_report(
    job_factory: Callable[..., Job], task_factory: Callable[..., dict[str, Any]], config: Config
) -> None:
    assert not_emulated(job_factory({"a": task_factory()}), config) == []
