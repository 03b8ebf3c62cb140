"""A JSON Schema (draft 2020-12) of the CreateJob body, generated from the validator's rules.

Editors use it to complete and check job.json while people type. Generated rather than
stored, so it always says what `validate` checks. What a schema cannot say (quotas, the
cluster choice, dependencies naming real tasks, cycles, decimals of SpotPriceLimit, the
input/output overlap) is left to `localbatch validate`.
"""

from __future__ import annotations

from typing import Any

from localbatch.spec.rules import (
    ABSOLUTE_PATTERN,
    JOB,
    MAX_FREE_DEPTH,
    NAME_PATTERN,
    OSS_PATTERNS,
    Rule,
)

SCHEMA_ID = "https://localbatch.invalid/schema/createjob.json"


def _whole(pattern: str) -> str:
    """JSON Schema patterns search anywhere; the validator matches whole strings."""
    return f"^(?:{pattern})$"


def _string(rule: Rule, schema: dict[str, Any]) -> None:
    patterns = []
    if rule.length:
        schema["minLength"], schema["maxLength"] = rule.length
    if rule.name_chars:
        patterns.append(_whole(NAME_PATTERN))
    if rule.oss:
        patterns.append(_whole(OSS_PATTERNS[rule.oss]))
    if rule.local:
        patterns.append(_whole(ABSOLUTE_PATTERN))
    if rule.enum is not None:
        schema["enum"] = list(rule.enum)
    if patterns:
        schema["pattern"] = patterns[0]  # the rules never combine two patterns
    if rule.forbid:
        schema["not"] = {"pattern": "[" + "".join(f"\\u{ord(c):04x}" for c in rule.forbid) + "]"}
    if rule.empty_ok and (patterns or rule.length):
        # "" means "not set" for these fields.
        constrained = {k: schema.pop(k) for k in list(schema) if k not in ("type", "description")}
        schema["anyOf"] = [{"const": ""}, constrained]


def _object(rule: Rule, schema: dict[str, Any], strict: bool) -> None:
    if rule.fields is not None:
        properties = {name: to_schema(sub, strict) for name, sub in rule.fields.items()}
        schema["properties"] = properties
        required = [name for name, sub in rule.fields.items() if sub.required]
        if required:
            schema["required"] = required
        if strict:
            schema["additionalProperties"] = False
        return
    if rule.size:
        schema["minProperties"] = rule.size[0]
        if rule.size_quota is None:
            schema["maxProperties"] = rule.size[1]
    if rule.keys:
        schema["propertyNames"] = to_schema(rule.keys, strict)
    if rule.values:
        schema["additionalProperties"] = to_schema(rule.values, strict)


def to_schema(rule: Rule, strict: bool = False) -> dict[str, Any]:
    """The schema of one rule (recursively); `strict`: objects with named members allow no
    others (as `validate --strict`)."""
    if rule.type is None:
        return {}
    schema: dict[str, Any] = {"type": rule.type}
    if rule.description:
        schema["description"] = rule.description
    if rule.type == "string":
        _string(rule, schema)
    elif rule.type in ("integer", "number"):
        if rule.bounds:
            schema["minimum"], schema["maximum"] = rule.bounds
        if rule.minimum is not None:
            schema["minimum"] = rule.minimum
    elif rule.type == "object":
        _object(rule, schema, strict)
    elif rule.items is not None:
        schema["items"] = to_schema(rule.items, strict)
    return schema


def job_schema(strict: bool = False) -> dict[str, Any]:
    """The whole CreateJob body schema, ready to print.

    `strict` refuses members the description does not have (an editor then flags typos
    such as JobFailOnInstanceFial); the service itself accepts and keeps them.
    """
    schema = to_schema(JOB, strict)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "BatchCompute CreateJob body (localbatch)",
        "description": (
            "Checked by `localbatch validate`, which also enforces the quotas, the cluster "
            "choice, dependencies naming known tasks, the absence of cycles and nesting of "
            f"free-form values up to {MAX_FREE_DEPTH} levels."
        ),
        **schema,
    }
