"""Store records -> the JSON bodies the official clients read (api-wire.md, "Response bodies").

Pure functions. Every field is always present with its wire type: the SDK reads a missing
object as `{}` and raises on a wrong type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from localbatch.config import ClusterDefinition, Config
from localbatch.spec.instance_types import INSTANCE_TYPES, InstanceType
from localbatch.states import State
from localbatch.storage.layout import redirect_object_name
from localbatch.store.records import Counts, InstanceRecord, JobRecord, Page, TaskRecord
from localbatch.timefmt import api_time

T = TypeVar("T")
Json = dict[str, Any]

#: Resource types a job may ask for; both run the same way on this machine.
RESOURCE_TYPES = ["OnDemand", "Spot"]
#: Disk types the validator accepts; locally a disk is a directory whatever its type.
DISK_TYPES = ["ephemeral", "cloud", "cloud_efficiency", "cloud_ssd"]


def metrics(counts: Counts) -> dict[str, int]:
    return {f"{state.value}Count": counts.of(state) for state in State}


def job(record: JobRecord) -> Json:
    return {
        "Id": record.id,
        "Name": record.name,
        "Owner": record.owner,
        "Priority": record.priority,
        "State": record.state.value,
        "Message": record.message,
        "CreationTime": api_time(record.creation_time),
        "StartTime": api_time(record.start_time),
        "EndTime": api_time(record.end_time),
        "TaskMetrics": metrics(record.task_counts),
        "InstanceMetrics": metrics(record.instance_counts),
    }


def task(record: TaskRecord) -> Json:
    return {
        "TaskName": record.name,
        "State": record.state.value,
        "StartTime": api_time(record.start_time),
        "EndTime": api_time(record.end_time),
        "InstanceMetrics": metrics(record.instance_counts),
    }


def log_object(directory: str, stream: str, record: InstanceRecord) -> str:
    """`<dir>stdout.<jobId>.<task>.<n>`: the only naming the official CLI finds logs by."""
    if not directory:
        return ""
    return directory + redirect_object_name(
        stream, record.job_id, record.task_name, record.instance_id
    )


def instance(record: InstanceRecord, stdout_dir: str = "", stderr_dir: str = "") -> Json:
    """An instance; the redirect directories come from the task's submitted Parameters."""
    ran = record.start_time is not None
    return {
        "InstanceId": record.instance_id,
        "State": record.state.value,
        "StartTime": api_time(record.start_time),
        "EndTime": api_time(record.end_time),
        "RetryCount": record.retry_count,
        "Progress": 100 if record.state == State.FINISHED else 0,
        "NodeIp": str(record.detail.get("node_ip", "127.0.0.1" if ran else "")),
        "StdoutRedirectPath": log_object(stdout_dir, "stdout", record),
        "StderrRedirectPath": log_object(stderr_dir, "stderr", record),
        "Result": {
            "ExitCode": record.exit_code,
            "ErrorCode": record.error_code,
            "ErrorMessage": record.error_message,
            "Detail": str(record.detail.get("result_detail", "")),
        },
        "Error": {"Code": record.error_code, "Message": record.error_message},
        "Outputs": {},
    }


def page(items: Page[T], shape: Callable[[T], Json]) -> Json:
    return {"Items": [shape(item) for item in items.items], "NextMarker": items.next_marker}


def _type_names(types: Iterable[InstanceType]) -> list[str]:
    return [t.name for t in types]


def quotas() -> Json:
    """What a job may ask for (GetQuotas): every instance type the validator knows."""
    names = _type_names(INSTANCE_TYPES.values())
    return {
        "AvailableClusterInstanceType": names,
        "AvailableSpotInstanceType": names,
        "AvailableClusterInstanceSystemDiskType": DISK_TYPES,
        "AvailableClusterInstanceDataDiskType": DISK_TYPES,
        "AvailableClusterResourceType": RESOURCE_TYPES,
    }


def available(host_cores: int, host_memory_gib: float) -> Json:
    """GetAvailableResource: the instance types this host can hold at full size."""
    fitting = [
        {
            "InstanceType": t.name,
            "CpuCore": t.cpu_cores,
            "MemorySize": t.memory_gib,
            "Network": {"Classic": True, "Vpc": True},
        }
        for t in INSTANCE_TYPES.values()
        if t.cpu_cores <= host_cores and t.memory_gib <= host_memory_gib
    ]
    return {
        "AvailableClusterInstanceType": fitting,
        "AvailableSpotInstanceType": fitting,
        "AvailablePrepaidInstanceType": [],
        "AvailableResourceType": RESOURCE_TYPES,
        "AvailableSystemDiskType": DISK_TYPES,
        "AvailableDataDiskType": DISK_TYPES,
    }


def image(image_id: str, docker_image: str) -> Json:
    """An ImageId and the local Docker image it runs as."""
    return {
        "Id": image_id,
        "Name": image_id,
        "Type": "System",
        "Description": f"Runs as the local Docker image {docker_image}",
        "EcsImageId": "",
        "OwnerId": 0,
        "Platform": "Linux",
        "CreationTime": "",
    }


def images(config: Config) -> list[Json]:
    return [image(image_id, docker) for image_id, docker in sorted(config.images.items())]


def cluster(definition: ClusterDefinition) -> Json:
    """A cluster of the config: a name for an image and an instance type, always Active."""
    return {
        "Id": definition.cluster_id,
        "Name": definition.cluster_id,
        "OwnerId": 0,
        "Description": "Defined in the localbatch config",
        "CreationTime": "",
        "State": "Active",
        "InstanceType": definition.instance_type,
        "ImageId": definition.image_id,
        "UserData": {},
        "EnvVars": {},
        "InputMapping": {},
        "WriteSupport": False,
        "Bootstrap": "",
        "SecurityGroup": "",
        "Groups": {},
        "OperationLogs": [],
        "Metrics": {"RunningCount": 0, "StartingCount": 0, "StoppingCount": 0, "StoppedCount": 0},
    }


def clusters(definitions: Mapping[str, ClusterDefinition]) -> list[Json]:
    return [cluster(d) for _, d in sorted(definitions.items())]
