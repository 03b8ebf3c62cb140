"""The CreateJob body described once, as data: what each field must be.

The validator (`validate.py`) walks a body along these rules and the JSON Schema
(`schema.py`) is generated from them, so the two cannot drift apart. Limits come from the
error table of createjob-api.txt and from semantics.md; checks that involve several fields
(clusters, dependencies, input/output overlap) live in `validate.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

JsonType = Literal["string", "integer", "number", "boolean", "object", "array"]
#: file: `oss://bucket/key` not ending in `/`; folder: ends in `/`; mount: `oss://` or `nas://`.
OssKind = Literal["file", "folder", "mount"]
#: any_os: absolute on Linux or a drive letter on Windows; absolute: the shorter table message.
LocalKind = Literal["any_os", "absolute", "generic"]

#: Deepest nesting accepted inside free-form values (UserData, unknown fields): deeper bodies
#: could not be copied or echoed back safely.
MAX_FREE_DEPTH = 64

#: Whole-string patterns, valid both in Python and in JSON Schema (ECMA-262) regexes.
NAME_PATTERN = r"[a-zA-Z_-][a-zA-Z0-9_-]*"
OSS_PATTERNS = {
    "file": r"oss://[^/]+/.*[^/]",
    "folder": r"oss://[^/]+/(.*/)?",
    "mount": r"(oss|nas)://.+",
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
    description: str = ""


STRING = Rule("string")
BOOLEAN = Rule("boolean")
FREE_OBJECT = Rule("object", values=Rule())
STRINGS = Rule("array", items=STRING)


def _text(low: int, high: int, **extra: object) -> Rule:
    return Rule("string", length=(low, high), **extra)  # type: ignore[arg-type]


def _mapping(key: Rule, value: Rule) -> Rule:
    return Rule("object", size=(0, 16), keys=key, values=value)


def _mounts() -> Rule:
    entry = Rule(
        "object",
        fields={
            "Source": Rule("string", required=True, oss="mount"),
            "Destination": Rule("string", required=True, local="generic"),
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
        "InstanceType": STRING,
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

OSS_FOLDER_VALUE = _text(0, 1024, oss="folder")

PARAMETERS = Rule(
    "object",
    required=True,
    fields={
        "Command": Rule(
            "object",
            required=True,
            fields={
                "CommandLine": _text(0, 1024, required=True),
                "PackagePath": _text(0, 1024, oss="file", empty_ok=True),
                "EnvVars": Rule(
                    "object",
                    size=(0, 64),
                    keys=_text(1, 128),
                    values=_text(0, 1024),
                ),
                "Docker": Rule("object", fields={"Image": STRING}),
            },
        ),
        "InputMappingConfig": Rule(
            "object", fields={"Locale": Rule("string", enum=LOCALES), "Lock": BOOLEAN}
        ),
        "StdoutRedirectPath": _text(0, 1024, oss="folder", empty_ok=True),
        "StderrRedirectPath": _text(0, 1024, oss="folder", empty_ok=True),
    },
)

TASK = Rule(
    "object",
    fields={
        "Parameters": PARAMETERS,
        "InputMapping": _mapping(_text(1, 1024, oss="folder"), _text(0, 1024, local="any_os")),
        "OutputMapping": _mapping(_text(1, 1024, local="absolute"), OSS_FOLDER_VALUE),
        "LogMapping": _mapping(_text(1, 1024, local="absolute"), OSS_FOLDER_VALUE),
        "InstanceCount": Rule("integer", required=True, minimum=1, quota="MaxTaskInstanceCount"),
        "MaxRetryCount": Rule("integer", minimum=0),
        "Timeout": Rule("integer", minimum=1, quota="MaxInstanceTimeout"),
        "ClusterId": _text(1, 64, name_chars=True, empty_ok=True),
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
        "Dependencies": Rule("object", keys=STRING, values=STRINGS),
    },
)

JOB = Rule(
    "object",
    fields={
        "Name": _text(1, 64, required=True, name_chars=True),
        "Description": _text(0, 1024),
        "Priority": Rule("integer", bounds=(0, 1000)),
        "JobFailOnInstanceFail": BOOLEAN,
        "AutoRelease": BOOLEAN,
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
