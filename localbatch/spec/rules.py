"""The CreateJob body described once, as data: what each field must be.

The validator (`validate.py`) walks a body along these rules and the JSON Schema
(`schema.py`) is generated from them, so the two cannot drift apart. Limits come from the
error table of createjob-api.txt and from semantics.md; checks that involve several fields
(clusters, dependencies, input/output overlap) live in `validate.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from localbatch.spec.buckets import BUCKET_PATTERN

JsonType = Literal["string", "integer", "number", "boolean", "object", "array"]
#: file: `oss://bucket/key` not ending in `/`; folder: ends in `/`; mount: `oss://` or `nas://`.
#: The bucket must be a valid OSS bucket name (spec/buckets.py).
OssKind = Literal["file", "folder", "mount"]
#: any_os: absolute on Linux or a drive letter on Windows; absolute: the shorter table message.
LocalKind = Literal["any_os", "absolute", "generic"]

#: Deepest nesting accepted inside free-form values (UserData, unknown fields): deeper bodies
#: could not be copied or echoed back safely. Well within a whole body's limit
#: (`jsontext.MAX_JSON_DEPTH`), so that a JSON body can reach it.
MAX_FREE_DEPTH = 32

#: Whole-string patterns, valid both in Python and in JSON Schema (ECMA-262) regexes.
NAME_PATTERN = r"[a-zA-Z_-][a-zA-Z0-9_-]*"
OSS_PATTERNS = {
    "file": rf"oss://{BUCKET_PATTERN}/.*[^/]",
    "folder": rf"oss://{BUCKET_PATTERN}/(.*/)?",
    "mount": rf"oss://{BUCKET_PATTERN}(/.*)?|nas://.+",
}
ABSOLUTE_PATTERN = r"(/|[A-Za-z]:[\\/]).*"

LOCALES = (
    "GBK",
    "GB2312-80",
    "BIG5",
    "UTF-8",
    "ANSI",
    "EUC-JP",
    "EUC-TW",
    "EUC-KR",
    "SHIFT-JIS",
    "KSC5601",
)
RESOURCE_TYPES = ("OnDemand", "Spot")
SPOT_STRATEGIES = ("SpotWithPriceLimit", "SpotAsPriceGo")
JOB_TYPES = ("DAG",)
EVENTS = (
    *(
        f"On{kind}{event}"
        for kind in ("Job", "Task", "Instance")
        for event in ("Waiting", "Running", "Stopped", "Finished", "Failed")
    ),
    "OnPriorityChange",
)


@dataclass(frozen=True)
class Rule:
    """What one JSON value must be. Unset attributes mean "no constraint"."""

    type: JsonType | None = None  # None: any JSON value, kept as it is
    required: bool = False
    #: String length range, reported with the table's "Its length must be in [a, b]." row.
    length: tuple[int, int] | None = None
    #: Member count range of an object, reported with "Its size must be in [a, b]."
    size: tuple[int, int] | None = None
    #: The upper bound of `size` is this quota instead (403 QuotaExhausted).
    size_quota: str | None = None
    name_chars: bool = False
    #: Characters a string may not contain (generic error): NUL cannot reach argv, env or paths.
    forbid: str = ""
    oss: OssKind | None = None
    local: LocalKind | None = None
    #: An empty string means "not set": skip the length/name/path checks.
    empty_ok: bool = False
    enum: tuple[str, ...] | None = None
    #: Number range reported with the table's "It must be in [a, b]." row (Priority).
    bounds: tuple[int, int] | None = None
    #: Lower bound reported with the generic "Specified parameter X is not valid." row.
    minimum: int | None = None
    #: A number above this quota is 403 QuotaExhausted.
    quota: str | None = None
    decimals: int | None = None
    #: An object with named members; members not listed are kept and warned about.
    fields: Mapping[str, Rule] | None = None
    #: An object used as a map: a rule for every key and for every value.
    keys: Rule | None = None
    values: Rule | None = None
    #: An array: a rule for every item.
    items: Rule | None = None
    #: Shown by editors through the JSON Schema.
    description: str = ""


STRING = Rule("string")
NUL = "\x00"
BOOLEAN = Rule("boolean")
FREE_OBJECT = Rule("object", values=Rule())
STRINGS = Rule("array", items=STRING)


def _text(low: int, high: int, **extra: Any) -> Rule:
    """A string with the table's length range, plus any other constraint."""
    return replace(Rule("string", length=(low, high)), **extra)


def _mapping(key: Rule, value: Rule, description: str) -> Rule:
    return Rule("object", size=(0, 16), keys=key, values=value, description=description)


def _mounts() -> Rule:
    entry = Rule(
        "object",
        fields={
            "Source": Rule("string", required=True, oss="mount", forbid=NUL),
            "Destination": Rule("string", required=True, local="generic", forbid=NUL),
            "WriteSupport": BOOLEAN,
        },
    )
    return Rule(
        "object",
        fields={
            "Entries": Rule("array", items=entry),
            "Locale": Rule("string", enum=LOCALES),
            "Lock": BOOLEAN,
            "CacheSupport": BOOLEAN,
            "NAS": Rule("object", fields={"AccessGroup": STRINGS, "FileSystem": STRINGS}),
            "OSS": Rule(
                "object",
                fields={
                    "AccessKeyId": STRING,
                    "AccessKeySecret": STRING,
                    "AccessSecurityToken": STRING,
                },
            ),
        },
    )


def _disk(*extra: str) -> Rule:
    fields = {"Type": STRING, "Size": Rule("integer", minimum=0)}
    fields.update(dict.fromkeys(extra, STRING))
    return Rule("object", fields=fields)


AUTO_CLUSTER = Rule(
    "object",
    fields={
        "ECSImageId": STRING,
        "ImageId": STRING,
        "InstanceType": Rule("string", required=True),
        "ResourceType": Rule("string", enum=RESOURCE_TYPES),
        "SpotStrategy": Rule("string", enum=SPOT_STRATEGIES),
        "SpotPriceLimit": Rule("number", minimum=0, decimals=3),
        "UserData": FREE_OBJECT,
        "ReserveOnFail": BOOLEAN,
        "DependencyIsvService": STRING,
        "Configs": Rule(
            "object",
            fields={
                "Disks": Rule(
                    "object",
                    fields={"SystemDisk": _disk(), "DataDisk": _disk("MountPoint")},
                ),
                "Mounts": _mounts(),
                "Networks": Rule(
                    "object",
                    fields={
                        "Classic": Rule(
                            "object",
                            fields=dict.fromkeys(
                                (
                                    "AllowIpAddress",
                                    "AllowIpAddressEgress",
                                    "AllowSecurityGroup",
                                    "AllowSecurityGroupEgress",
                                ),
                                STRINGS,
                            ),
                        ),
                        "VPC": Rule("object", fields={"CidrBlock": STRING, "VpcId": STRING}),
                    },
                ),
            },
        ),
    },
)

OSS_FOLDER_VALUE = _text(0, 1024, oss="folder", forbid=NUL)

PARAMETERS = Rule(
    "object",
    required=True,
    fields={
        "Command": Rule(
            "object",
            required=True,
            fields={
                "CommandLine": _text(
                    0,
                    1024,
                    required=True,
                    forbid=NUL,
                    description="Interpreter plus script, split into words (not a shell line)",
                ),
                "PackagePath": _text(
                    0,
                    1024,
                    oss="file",
                    empty_ok=True,
                    forbid=NUL,
                    description="A .tar.gz on OSS, unpacked into the working directory",
                ),
                "EnvVars": Rule(
                    "object",
                    size=(0, 64),
                    keys=_text(1, 128, forbid="=" + NUL),
                    values=_text(0, 1024, forbid=NUL),
                ),
                "Docker": Rule(
                    "object",
                    fields={"Image": Rule("string", forbid=NUL)},
                    description="Image set: the task runs in this Docker image",
                ),
            },
        ),
        "InputMappingConfig": Rule(
            "object", fields={"Locale": Rule("string", enum=LOCALES), "Lock": BOOLEAN}
        ),
        "StdoutRedirectPath": _text(0, 1024, oss="folder", empty_ok=True, forbid=NUL),
        "StderrRedirectPath": _text(0, 1024, oss="folder", empty_ok=True, forbid=NUL),
    },
)

TASK = Rule(
    "object",
    fields={
        "Parameters": PARAMETERS,
        "InputMapping": _mapping(
            _text(1, 1024, oss="folder", forbid=NUL),
            _text(0, 1024, local="any_os", forbid=NUL),
            "OSS folder -> local directory, mounted read-only",
        ),
        "OutputMapping": _mapping(
            _text(1, 1024, local="absolute", forbid=NUL),
            OSS_FOLDER_VALUE,
            "Local directory -> OSS folder, uploaded when the instance ends",
        ),
        "LogMapping": _mapping(
            _text(1, 1024, local="absolute", forbid=NUL),
            OSS_FOLDER_VALUE,
            "Local log file -> OSS folder, uploaded while running",
        ),
        "InstanceCount": Rule(
            "integer",
            required=True,
            minimum=1,
            quota="MaxTaskInstanceCount",
            description="Instances run in parallel; each sees BATCH_COMPUTE_DAG_INSTANCE_ID",
        ),
        "MaxRetryCount": Rule("integer", minimum=0, description="Retries per failed instance"),
        "Timeout": Rule(
            "integer",
            minimum=1,
            quota="MaxInstanceTimeout",
            description="Seconds per instance attempt (default 86400)",
        ),
        "ClusterId": _text(
            1,
            64,
            name_chars=True,
            empty_ok=True,
            description="An existing cluster; empty to use AutoCluster",
        ),
        "AutoCluster": AUTO_CLUSTER,
        "Mounts": _mounts(),
        "WriteSupport": BOOLEAN,
    },
)

DAG = Rule(
    "object",
    required=True,
    fields={
        "Tasks": Rule(
            "object",
            required=True,
            size=(1, 16),
            size_quota="MaxJobTaskCount",
            keys=_text(1, 64, name_chars=True),
            values=TASK,
        ),
        "Dependencies": Rule(
            "object",
            keys=STRING,
            values=STRINGS,
            description="Upstream task -> tasks that run after it",
        ),
    },
)

JOB = Rule(
    "object",
    fields={
        "Name": _text(1, 64, required=True, name_chars=True, description="Job name"),
        "Description": _text(0, 1024),
        "Priority": Rule("integer", bounds=(0, 1000), description="Higher runs first"),
        "JobFailOnInstanceFail": Rule(
            "boolean", description="true (default): a failed instance fails the job"
        ),
        "AutoRelease": Rule("boolean", description="Delete the job once it is Finished"),
        "Type": Rule("string", required=True, enum=JOB_TYPES),
        "DAG": DAG,
        "Notification": Rule(
            "object",
            fields={
                "Topic": Rule(
                    "object",
                    fields={
                        "Name": STRING,
                        "Endpoint": STRING,
                        "Events": Rule("array", items=Rule("string", enum=EVENTS)),
                        "UserData": STRING,
                        "UserTemplate": STRING,
                    },
                )
            },
        ),
    },
)
