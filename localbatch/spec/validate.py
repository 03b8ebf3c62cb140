"""CreateJob validation: every error of a body, in a fixed order, with the service's codes.

The body is walked in document order (the order its keys were written); inside each
object, the members present are checked first, then the mandatory members that are
missing, then the checks that involve several members (cluster choice, input/output
overlap, dependencies and cycles). The first error is the one the HTTP API answers.
Each value gets at most one error: its first failing check. Unknown members are kept and
reported as warnings. Nothing here raises on bad input: any JSON value ends in coded errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from localbatch.config import DEFAULT_INSTANCE_TYPE, DEFAULT_QUOTAS
from localbatch.spec.errors import ApiError, quota_exhausted
from localbatch.spec.instance_types import lookup as lookup_instance_type
from localbatch.spec.rules import (
    ABSOLUTE_PATTERN,
    AUTO_CLUSTER,
    DAG,
    JOB,
    MAX_FREE_DEPTH,
    NAME_PATTERN,
    OSS_PATTERNS,
    TASK,
    Rule,
)

NAME_RE = re.compile(NAME_PATTERN)
OSS_RES = {kind: re.compile(pattern) for kind, pattern in OSS_PATTERNS.items()}
ABSOLUTE_RE = re.compile(ABSOLUTE_PATTERN)


@dataclass
class ValidationReport:
    """All errors (the first is what the API answers) and warnings of one body."""

    errors: list[ApiError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Warnings alone leave a body valid: the service accepts unknown members."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The shape `localbatch validate --json` prints."""
        return {
            "valid": self.valid,
            "errors": [error.to_dict() for error in self.errors],
            "warnings": list(self.warnings),
        }


def validate(body: object, quotas: Mapping[str, int] | None = None) -> ValidationReport:
    """Check a CreateJob body against the error table, the limits and the quotas."""
    walker = _Walker({**DEFAULT_QUOTAS, **(quotas or {})})
    if not isinstance(body, dict):
        walker.report.errors.append(ApiError.from_catalogue("InvalidHttpBody"))
    else:
        walker.check(JOB, body, "", "")
    return walker.report


def check_job_count(existing_jobs: int, quotas: Mapping[str, int] | None = None) -> ApiError | None:
    """403 QuotaExhausted.MaxJobCount when one more job would exceed the quota."""
    limit = {**DEFAULT_QUOTAS, **(quotas or {})}["MaxJobCount"]
    return quota_exhausted("MaxJobCount", limit) if existing_jobs >= limit else None


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _type_ok(kind: str, value: object) -> bool:
    """JSON's own types: a boolean is not a number, a string is not a number, 1.5 not an integer.

    An integral float (1.0) counts as an integer, as JSON Schema says.
    """
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    expected = {"string": str, "object": dict, "array": list}.get(kind)
    return expected is not None and isinstance(value, expected)


def _allowed(rule: Rule, value: str) -> bool:
    """No forbidden character, and one of the documented values when there is a list."""
    if any(char in value for char in rule.forbid):
        return False
    return rule.enum is None or value in rule.enum


def _depth(value: object) -> int:
    """Nesting depth without recursion, so that any nesting can be measured."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _local_key(path: str) -> str:
    """A local directory compared without its trailing slashes."""
    return path.rstrip("/\\") or path[:1]


def has_cycle(nodes: set[str], edges: list[tuple[str, str]]) -> bool:
    """Kahn's algorithm: a cycle leaves nodes that never reach in-degree zero."""
    indegree = dict.fromkeys(nodes, 0)
    downstream: dict[str, list[str]] = {node: [] for node in nodes}
    for up, down in edges:
        downstream[up].append(down)
        indegree[down] += 1
    ready = [node for node, count in indegree.items() if count == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for down in downstream[node]:
            indegree[down] -= 1
            if indegree[down] == 0:
                ready.append(down)
    return seen != len(nodes)


class _Walker:
    """One walk over one body; collects errors and warnings in document order."""

    def __init__(self, quotas: Mapping[str, int]) -> None:
        self.quotas = quotas
        self.report = ValidationReport()
        self.hooks: dict[int, Callable[[dict[str, Any], str], None]] = {
            id(TASK): self._task,
            id(AUTO_CLUSTER): self._auto_cluster,
            id(DAG): self._dag,
        }

    def error(self, entry: str, path: str, **values: object) -> None:
        """Record one catalogue error; the walk goes on so every error is reported."""
        self.report.errors.append(ApiError.from_catalogue(entry, path, **values))

    def check(self, rule: Rule, value: object, param: str, path: str) -> None:
        """Check one value against its rule: the type first, then what the type allows."""
        if rule.type is None:
            self._free(value, param, path)
        elif not _type_ok(rule.type, value):
            self.error("Type", path, Parameter=param, type=rule.type)
        elif isinstance(value, str):
            self._string(rule, value, param, path)
        elif isinstance(value, int | float):
            self._number(rule, value, param, path)
        elif isinstance(value, dict):
            self._object(rule, value, param, path)
        elif isinstance(value, list) and rule.items is not None:
            for index, item in enumerate(value):
                self.check(rule.items, item, param, f"{path}[{index}]")

    def _free(self, value: object, param: str, path: str) -> None:
        if _depth(value) > MAX_FREE_DEPTH:
            self.error("Invalid", path, Parameter=param)

    def _string(self, rule: Rule, value: str, param: str, path: str) -> None:
        if rule.empty_ok and value == "":
            return
        if rule.length and not rule.length[0] <= len(value) <= rule.length[1]:
            self.error("Length", path, Parameter=param, low=rule.length[0], high=rule.length[1])
        elif rule.name_chars and not NAME_RE.fullmatch(value):
            self.error("NameChars", path, Parameter=param)
        elif not _allowed(rule, value):
            self.error("Invalid", path, Parameter=param)
        elif rule.oss and not OSS_RES[rule.oss].fullmatch(value):
            self.error("Invalid" if rule.oss == "mount" else "OssPath", path, Parameter=param)
        elif rule.local and not ABSOLUTE_RE.fullmatch(value):
            entry = {"any_os": "LocalPathAnyOs", "absolute": "LocalPath"}.get(rule.local)
            self.error(entry or "Invalid", path, Parameter=param)

    def _number(self, rule: Rule, value: float, param: str, path: str) -> None:
        if rule.bounds and not rule.bounds[0] <= value <= rule.bounds[1]:
            self.error("Range", path, Parameter=param, low=rule.bounds[0], high=rule.bounds[1])
        elif rule.minimum is not None and value < rule.minimum:
            self.error("Invalid", path, Parameter=param)
        elif rule.quota and value > self.quotas[rule.quota]:
            self.report.errors.append(quota_exhausted(rule.quota, self.quotas[rule.quota], path))
        elif rule.decimals is not None and _decimals(value) > rule.decimals:
            self.error("Invalid", path, Parameter=param)

    def _object(self, rule: Rule, value: dict[Any, Any], param: str, path: str) -> None:
        if rule.fields is not None:
            self._members(rule.fields, value, path)
        else:
            self._map(rule, value, param, path)
        hook = self.hooks.get(id(rule))
        if hook:
            hook(value, path)

    def _members(self, fields: Mapping[str, Rule], value: dict[Any, Any], path: str) -> None:
        for key, member in value.items():
            rule = fields.get(key)
            if rule is None:
                self.report.warnings.append(f"{_join(path, key)}: unknown field, kept but not used")
                self._free(member, str(key), _join(path, key))
            else:
                self.check(rule, member, key, _join(path, key))
        for key, rule in fields.items():
            if rule.required and key not in value:
                self.error("Missing", _join(path, key), Parameter=key)

    def _map(self, rule: Rule, value: dict[Any, Any], param: str, path: str) -> None:
        if rule.size:
            low, high = rule.size
            if len(value) < low or (rule.size_quota is None and len(value) > high):
                self.error("Size", path, Parameter=param, low=low, high=high)
            elif rule.size_quota and len(value) > self.quotas[rule.size_quota]:
                limit = self.quotas[rule.size_quota]
                self.report.errors.append(quota_exhausted(rule.size_quota, limit, path))
        for key, member in value.items():
            key_param, key_path = f"{param}.{key}", _join(path, key)
            if rule.keys:
                self.check(rule.keys, key, key_param, key_path)
            if rule.values:
                named = rule.values.fields is not None
                value_param = key_param if named else f"{key_param}.value"
                self.check(rule.values, member, value_param, key_path)

    # --- checks across members ---

    def _task(self, task: dict[str, Any], path: str) -> None:
        cluster = task.get("ClusterId", "")
        if cluster == "" and "AutoCluster" not in task:
            self.error("Missing", _join(path, "ClusterId"), Parameter="ClusterId")
        elif isinstance(cluster, str) and cluster and isinstance(task.get("AutoCluster"), dict):
            self.report.warnings.append(
                f"{_join(path, 'AutoCluster')}: ignored, the task runs on ClusterId {cluster}"
            )
        inputs, outputs = task.get("InputMapping"), task.get("OutputMapping")
        if not (isinstance(inputs, dict) and isinstance(outputs, dict)):
            return
        local_inputs = {_local_key(v) for v in inputs.values() if isinstance(v, str)}
        for local in outputs:
            if isinstance(local, str) and _local_key(local) in local_inputs:
                self.error(
                    "Invalid",
                    _join(_join(path, "OutputMapping"), local),
                    Parameter=f"OutputMapping.{local}",
                )

    def _auto_cluster(self, cluster: dict[str, Any], path: str) -> None:
        instance_type = cluster.get("InstanceType")
        if instance_type == "":  # absent: the walk reported MissingInstanceType
            self.error("Missing", _join(path, "InstanceType"), Parameter="InstanceType")
        elif isinstance(instance_type, str) and lookup_instance_type(instance_type) is None:
            self.report.warnings.append(
                f"{_join(path, 'InstanceType')}: {instance_type} is not in localbatch's "
                f"instance type table; it runs sized as {DEFAULT_INSTANCE_TYPE}"
            )
        if not cluster.get("ImageId") and not cluster.get("ECSImageId"):
            self.error("Missing", _join(path, "ImageId"), Parameter="ImageId")

    def _dag(self, dag: dict[str, Any], path: str) -> None:
        tasks, dependencies = dag.get("Tasks"), dag.get("Dependencies")
        if not (isinstance(tasks, dict) and isinstance(dependencies, dict)):
            return
        deps_path = _join(path, "Dependencies")
        edges: list[tuple[str, str]] = []
        for up, downs in dependencies.items():
            if up not in tasks:
                self.error("Invalid", _join(deps_path, up), Parameter=f"Dependencies.{up}")
                continue
            for index, down in enumerate(downs if isinstance(downs, list) else ()):
                if isinstance(down, str) and down in tasks:
                    edges.append((up, down))
                elif isinstance(down, str):
                    self.error(
                        "Invalid",
                        f"{_join(deps_path, up)}[{index}]",
                        Parameter=f"Dependencies.{up}.value",
                    )
        if has_cycle(set(tasks), edges):
            self.error("BadDAG", deps_path)


def _decimals(value: float) -> int:
    exponent = Decimal(str(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
