"""CreateJob validation: every error of a body, in a fixed order, with the service's codes.

The body is walked in document order (the order its keys were written); inside each
object, the members present are checked first, then the mandatory members that are
missing, then the checks that involve several members (cluster choice, input/output
overlap, dependencies and cycles). The first error is the one the HTTP API answers.
Each value gets at most one error: its first failing check. Unknown members are kept and
reported as warnings (errors with `strict`). Nothing here raises on bad input: any JSON
value ends in coded errors. Each error may carry a hint (spec/hints.py): localbatch's words
on what the service's message leaves out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from localbatch.config import DEFAULT_INSTANCE_TYPE, DEFAULT_QUOTAS, QUOTA_ENV
from localbatch.spec import hints
from localbatch.spec.errors import ApiError, quota_exhausted
from localbatch.spec.instance_types import lookup as lookup_instance_type
from localbatch.spec.instance_types import nearest as nearest_instance_types
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


def validate(
    body: object, quotas: Mapping[str, int] | None = None, *, strict: bool = False
) -> ValidationReport:
    """Check a CreateJob body against the error table, the limits and the quotas.

    `strict`: a member the job description does not have is an error (`UnknownField`), not
    a warning; the API is never strict (the service keeps unknown members).
    """
    walker = _Walker({**DEFAULT_QUOTAS, **(quotas or {})}, strict)
    if not isinstance(body, dict):
        hint = f"the body is {hints.json_type(body)}, not an object"
        walker.report.errors.append(ApiError.from_catalogue("InvalidHttpBody", hint=hint))
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
    return hints.find_cycle(nodes, edges) is not None


class _Walker:
    """One walk over one body; collects errors and warnings in document order."""

    def __init__(self, quotas: Mapping[str, int], strict: bool = False) -> None:
        self.quotas = quotas
        self.strict = strict
        self.report = ValidationReport()
        self.hooks: dict[int, Callable[[dict[str, Any], str], None]] = {
            id(TASK): self._task,
            id(AUTO_CLUSTER): self._auto_cluster,
            id(DAG): self._dag,
        }

    def error(self, entry: str, path: str, hint: str = "", **values: object) -> None:
        """Record one catalogue error; the walk goes on so every error is reported."""
        self.report.errors.append(ApiError.from_catalogue(entry, path, hint=hint, **values))

    def quota_error(self, quota: str, value: float, path: str) -> None:
        limit = self.quotas[quota]
        error = quota_exhausted(quota, limit, path)
        error.hint = hints.quota_exceeded(value, quota, limit, QUOTA_ENV)
        self.report.errors.append(error)

    def check(self, rule: Rule, value: object, param: str, path: str) -> None:
        """Check one value against its rule: the type first, then what the type allows."""
        if rule.type is None:
            self._free(value, param, path)
        elif not _type_ok(rule.type, value):
            hint = hints.expected_type(rule.type, value)
            self.error("Type", path, hint, Parameter=param, type=rule.type)
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
            hint = f"nested deeper than {MAX_FREE_DEPTH} levels"
            self.error("Invalid", path, hint, Parameter=param)

    def _string(self, rule: Rule, value: str, param: str, path: str) -> None:
        if rule.empty_ok and value == "":
            return
        if rule.length and not rule.length[0] <= len(value) <= rule.length[1]:
            low, high = rule.length
            hint = f"{len(value)} characters"
            self.error("Length", path, hint, Parameter=param, low=low, high=high)
        elif rule.name_chars and not NAME_RE.fullmatch(value):
            self.error("NameChars", path, hints.name_characters(value), Parameter=param)
        elif not _allowed(rule, value):
            hint = (
                hints.bad_characters(value, rule.forbid)
                if any(char in value for char in rule.forbid)
                else hints.not_allowed(value, rule.enum or ())
            )
            self.error("Invalid", path, hint, Parameter=param)
        elif rule.oss and not OSS_RES[rule.oss].fullmatch(value):
            oss_entry = "Invalid" if rule.oss == "mount" else "OssPath"
            self.error(oss_entry, path, hints.oss_path(value, rule.oss), Parameter=param)
        elif rule.local and not ABSOLUTE_RE.fullmatch(value):
            entry = {"any_os": "LocalPathAnyOs", "absolute": "LocalPath"}.get(rule.local)
            hint = f"{hints.quote(value)} is not an absolute path"
            self.error(entry or "Invalid", path, hint, Parameter=param)

    def _number(self, rule: Rule, value: float, param: str, path: str) -> None:
        if rule.bounds and not rule.bounds[0] <= value <= rule.bounds[1]:
            low, high = rule.bounds
            self.error(
                "Range", path, f"got {hints.quote(value)}", Parameter=param, low=low, high=high
            )
        elif rule.minimum is not None and value < rule.minimum:
            maximum = self.quotas[rule.quota] if rule.quota else None
            hint = hints.allowed_range(value, rule.minimum, maximum, rule.quota)
            self.error("Invalid", path, hint, Parameter=param)
        elif rule.quota and value > self.quotas[rule.quota]:
            self.quota_error(rule.quota, value, path)
        elif rule.decimals is not None and _decimals(value) > rule.decimals:
            hint = f"got {hints.quote(value)}; at most {rule.decimals} decimals"
            self.error("Invalid", path, hint, Parameter=param)

    def _object(self, rule: Rule, value: dict[Any, Any], param: str, path: str) -> None:
        if rule.fields is not None:
            self._members(rule.fields, value, path)
        else:
            self._map(rule, value, param, path)
        hook = self.hooks.get(id(rule))
        if hook:
            hook(value, path)

    def _members(self, fields: Mapping[str, Rule], value: dict[Any, Any], path: str) -> None:
        unknown = [str(key) for key in value if key not in fields]
        for key, member in value.items():
            rule = fields.get(key)
            if rule is None:
                self._unknown(str(key), fields, path)
                self._free(member, str(key), _join(path, key))
            else:
                self.check(rule, member, key, _join(path, key))
        for key, rule in fields.items():
            if rule.required and key not in value:
                near = hints.closest(key, unknown)
                hint = f"{hints.quote(near[0])} is present: a misspelling of {key}?" if near else ""
                self.error("Missing", _join(path, key), hint, Parameter=key)

    def _unknown(self, key: str, fields: Mapping[str, Rule], path: str) -> None:
        """A member the description does not have: kept with a warning (strict: an error)."""
        guess = hints.did_you_mean(key, fields)
        if self.strict:
            hint = guess.removeprefix("; ")
            self.error("UnknownField", _join(path, key), hint, Parameter=_join(path, key))
        else:
            self.report.warnings.append(
                f"{_join(path, key)}: unknown field, kept but not used{guess}"
            )

    def _map(self, rule: Rule, value: dict[Any, Any], param: str, path: str) -> None:
        if rule.size:
            low, high = rule.size
            if len(value) < low or (rule.size_quota is None and len(value) > high):
                hint = f"{len(value)} members"
                self.error("Size", path, hint, Parameter=param, low=low, high=high)
            elif rule.size_quota and len(value) > self.quotas[rule.size_quota]:
                self.quota_error(rule.size_quota, len(value), path)
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
            hint = "a task runs on a ClusterId or on an AutoCluster; it has neither"
            self.error("Missing", _join(path, "ClusterId"), hint, Parameter="ClusterId")
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
                    f"{hints.quote(local)} is also where an InputMapping is mounted",
                    Parameter=f"OutputMapping.{local}",
                )

    def _auto_cluster(self, cluster: dict[str, Any], path: str) -> None:
        instance_type = cluster.get("InstanceType")
        if instance_type == "":  # absent: the walk reported MissingInstanceType
            self.error("Missing", _join(path, "InstanceType"), Parameter="InstanceType")
        elif isinstance(instance_type, str) and lookup_instance_type(instance_type) is None:
            near = nearest_instance_types(instance_type)
            nearest = f" (nearest: {', '.join(near)})" if near else ""
            self.report.warnings.append(
                f"{_join(path, 'InstanceType')}: {instance_type} is not in localbatch's "
                f"instance type table{nearest}; it runs sized as {DEFAULT_INSTANCE_TYPE} "
                "(`localbatch instance-types` lists them)"
            )
        if not cluster.get("ImageId") and not cluster.get("ECSImageId"):
            hint = "an AutoCluster needs ImageId (or ECSImageId)"
            self.error("Missing", _join(path, "ImageId"), hint, Parameter="ImageId")

    def _dag(self, dag: dict[str, Any], path: str) -> None:
        tasks, dependencies = dag.get("Tasks"), dag.get("Dependencies")
        if not (isinstance(tasks, dict) and isinstance(dependencies, dict)):
            return
        deps_path = _join(path, "Dependencies")
        edges: list[tuple[str, str]] = []
        names = [str(name) for name in tasks]
        for up, downs in dependencies.items():
            if up not in tasks:
                hint = hints.unknown_name("task", up, names)
                self.error("Invalid", _join(deps_path, up), hint, Parameter=f"Dependencies.{up}")
                continue
            for index, down in enumerate(downs if isinstance(downs, list) else ()):
                if isinstance(down, str) and down in tasks:
                    edges.append((up, down))
                elif isinstance(down, str):
                    self.error(
                        "Invalid",
                        f"{_join(deps_path, up)}[{index}]",
                        hints.unknown_name("task", down, names),
                        Parameter=f"Dependencies.{up}.value",
                    )
        cycle = hints.find_cycle(names, edges)
        if cycle is not None:
            self.error("BadDAG", deps_path, f"cycle: {' -> '.join(cycle)}")


def _decimals(value: float) -> int:
    exponent = Decimal(str(value)).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0
