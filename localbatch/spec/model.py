"""The typed BatchCompute job model.

`parse_job` reads a body that `validate` accepted and answers frozen objects with the wire
names turned into attributes. The submitted body is kept untouched in `Job.raw` so that it
can be echoed back (GetJobDescription) byte for byte in meaning. Defaults are those the
official SDK sends (semantics.md), except `Timeout`, which localbatch decides is 86400.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

DEFAULT_TIMEOUT = 86400
DEFAULT_LOCALE = "GBK"

JsonObject = Mapping[str, Any]


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _obj(body: JsonObject, key: str) -> JsonObject:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class DockerSpec:
    image: str = ""


@dataclass(frozen=True)
class Command:
    command_line: str
    package_path: str = ""
    env_vars: Mapping[str, str] = field(default_factory=dict)
    docker: DockerSpec | None = None


@dataclass(frozen=True)
class InputMappingConfig:
    locale: str = DEFAULT_LOCALE
    lock: bool = False


@dataclass(frozen=True)
class Parameters:
    command: Command
    input_mapping_config: InputMappingConfig = InputMappingConfig()
    stdout_redirect_path: str = ""
    stderr_redirect_path: str = ""


@dataclass(frozen=True)
class MountEntry:
    source: str
    destination: str
    write_support: bool = False


@dataclass(frozen=True)
class OssCredentials:
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""


@dataclass(frozen=True)
class Mounts:
    entries: tuple[MountEntry, ...] = ()
    locale: str = DEFAULT_LOCALE
    lock: bool = False
    cache_support: bool = False
    nas_access_groups: tuple[str, ...] = ()
    nas_file_systems: tuple[str, ...] = ()
    oss: OssCredentials | None = None


@dataclass(frozen=True)
class Disk:
    type: str = ""
    size: int = 0
    mount_point: str = ""


@dataclass(frozen=True)
class Configs:
    system_disk: Disk | None = None
    data_disk: Disk | None = None
    mounts: Mounts | None = None
    #: Networks cannot mean anything on one machine; kept to be reported as not emulated.
    networks: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AutoCluster:
    image_id: str = ""
    ecs_image_id: str = ""
    instance_type: str = ""
    resource_type: str = "OnDemand"
    spot_strategy: str = ""
    spot_price_limit: float = 0.0
    user_data: Mapping[str, Any] = field(default_factory=dict)
    reserve_on_fail: bool = False
    dependency_isv_service: str = ""
    configs: Configs = Configs()


@dataclass(frozen=True)
class Task:
    """One `DAG.Tasks` entry, with the service's defaults for members left out."""

    name: str
    parameters: Parameters
    instance_count: int = 1
    max_retry_count: int = 0
    timeout: int = DEFAULT_TIMEOUT
    cluster_id: str = ""
    auto_cluster: AutoCluster | None = None
    input_mapping: Mapping[str, str] = field(default_factory=dict)
    output_mapping: Mapping[str, str] = field(default_factory=dict)
    log_mapping: Mapping[str, str] = field(default_factory=dict)
    mounts: Mounts | None = None
    write_support: bool = False

    @property
    def all_mounts(self) -> tuple[MountEntry, ...]:
        """Task-level entries, then AutoCluster.Configs entries."""
        entries = list(self.mounts.entries if self.mounts else ())
        if self.auto_cluster and self.auto_cluster.configs.mounts:
            entries.extend(self.auto_cluster.configs.mounts.entries)
        return tuple(entries)


@dataclass(frozen=True)
class Topic:
    """`Notification.Topic`: which job/task events are announced, and where."""

    name: str = ""
    endpoint: str = ""
    events: tuple[str, ...] = ()
    user_data: str = ""
    user_template: str = ""


@dataclass(frozen=True)
class Job:
    """A CreateJob body, typed; `raw` keeps the body as sent, for GetJobDescription."""

    name: str
    tasks: Mapping[str, Task]
    #: upstream task name -> names of the tasks that run after it.
    dependencies: Mapping[str, tuple[str, ...]]
    description: str = ""
    priority: int = 0
    type: str = "DAG"
    job_fail_on_instance_fail: bool = True
    auto_release: bool = False
    topic: Topic | None = None
    #: The submitted body, unchanged (deep copy).
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _str_map(value: object) -> Mapping[str, str]:
    return _frozen({str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {})


def _mounts(body: JsonObject) -> Mounts | None:
    if not body:
        return None
    entries = tuple(
        MountEntry(
            source=str(entry.get("Source", "")),
            destination=str(entry.get("Destination", "")),
            write_support=bool(entry.get("WriteSupport", False)),
        )
        for entry in body.get("Entries") or ()
        if isinstance(entry, Mapping)
    )
    nas = _obj(body, "NAS")
    oss = _obj(body, "OSS")
    return Mounts(
        entries=entries,
        locale=str(body.get("Locale", DEFAULT_LOCALE)),
        lock=bool(body.get("Lock", False)),
        cache_support=bool(body.get("CacheSupport", False)),
        nas_access_groups=tuple(str(x) for x in nas.get("AccessGroup") or ()),
        nas_file_systems=tuple(str(x) for x in nas.get("FileSystem") or ()),
        oss=OssCredentials(
            access_key_id=str(oss.get("AccessKeyId", "")),
            access_key_secret=str(oss.get("AccessKeySecret", "")),
            security_token=str(oss.get("AccessSecurityToken", "")),
        )
        if oss
        else None,
    )


def _disk(body: JsonObject) -> Disk | None:
    if not body:
        return None
    return Disk(
        type=str(body.get("Type", "")),
        size=int(body.get("Size", 0) or 0),
        mount_point=str(body.get("MountPoint", "")),
    )


def _auto_cluster(body: JsonObject) -> AutoCluster | None:
    if not body:
        return None
    configs = _obj(body, "Configs")
    disks = _obj(configs, "Disks")
    return AutoCluster(
        image_id=str(body.get("ImageId", "")),
        ecs_image_id=str(body.get("ECSImageId", "")),
        instance_type=str(body.get("InstanceType", "")),
        resource_type=str(body.get("ResourceType", "OnDemand")),
        spot_strategy=str(body.get("SpotStrategy", "")),
        spot_price_limit=float(body.get("SpotPriceLimit", 0.0) or 0.0),
        user_data=_frozen(_obj(body, "UserData")),
        reserve_on_fail=bool(body.get("ReserveOnFail", False)),
        dependency_isv_service=str(body.get("DependencyIsvService", "")),
        configs=Configs(
            system_disk=_disk(_obj(disks, "SystemDisk")),
            data_disk=_disk(_obj(disks, "DataDisk")),
            mounts=_mounts(_obj(configs, "Mounts")),
            networks=_frozen(_obj(configs, "Networks")),
        ),
    )


def _task(name: str, body: JsonObject) -> Task:
    params = _obj(body, "Parameters")
    command = _obj(params, "Command")
    docker = command.get("Docker")
    imc = _obj(params, "InputMappingConfig")
    timeout = body.get("Timeout")
    return Task(
        name=name,
        parameters=Parameters(
            command=Command(
                command_line=str(command.get("CommandLine", "")),
                package_path=str(command.get("PackagePath", "")),
                env_vars=_str_map(command.get("EnvVars")),
                docker=DockerSpec(image=str(docker.get("Image", "")))
                if isinstance(docker, Mapping)
                else None,
            ),
            input_mapping_config=InputMappingConfig(
                locale=str(imc.get("Locale", DEFAULT_LOCALE)), lock=bool(imc.get("Lock", False))
            ),
            stdout_redirect_path=str(params.get("StdoutRedirectPath", "")),
            stderr_redirect_path=str(params.get("StderrRedirectPath", "")),
        ),
        instance_count=int(body.get("InstanceCount", 1)),
        max_retry_count=int(body.get("MaxRetryCount", 0)),
        # Validation accepts integral floats (1.0) as integers, as JSON Schema does.
        timeout=int(timeout)
        if isinstance(timeout, int | float) and timeout > 0
        else DEFAULT_TIMEOUT,
        cluster_id=str(body.get("ClusterId", "") or ""),
        auto_cluster=_auto_cluster(_obj(body, "AutoCluster")),
        input_mapping=_str_map(body.get("InputMapping")),
        output_mapping=_str_map(body.get("OutputMapping")),
        log_mapping=_str_map(body.get("LogMapping")),
        mounts=_mounts(_obj(body, "Mounts")),
        write_support=bool(body.get("WriteSupport", False)),
    )


def parse_job(body: JsonObject) -> Job:
    """Turn a body that passed validation into the typed model (keeping a copy of the body)."""
    dag = _obj(body, "DAG")
    tasks = {name: _task(name, spec) for name, spec in _obj(dag, "Tasks").items()}
    dependencies = {
        str(up): tuple(str(down) for down in downs)
        for up, downs in _obj(dag, "Dependencies").items()
        if isinstance(downs, list)
    }
    topic_body = _obj(_obj(body, "Notification"), "Topic")
    topic = (
        Topic(
            name=str(topic_body.get("Name", "")),
            endpoint=str(topic_body.get("Endpoint", "")),
            events=tuple(str(e) for e in topic_body.get("Events") or ()),
            user_data=str(topic_body.get("UserData", "")),
            user_template=str(topic_body.get("UserTemplate", "")),
        )
        if topic_body
        else None
    )
    return Job(
        name=str(body.get("Name", "")),
        description=str(body.get("Description", "")),
        priority=int(body.get("Priority", 0)),
        type=str(body.get("Type", "DAG")),
        job_fail_on_instance_fail=bool(body.get("JobFailOnInstanceFail", True)),
        auto_release=bool(body.get("AutoRelease", False)),
        tasks=_frozen(tasks),
        dependencies=_frozen(dependencies),
        topic=topic,
        raw=copy.deepcopy(dict(body)),
    )
