"""What a person needs beside the service's error message: the value that was wrong, the
allowed range, the name that was probably meant, the cycle's path.

The service's `Code` and `Message` stay word for word (clients match on them); these words
are localbatch's own, shown as `hint:` lines by `validate` and as `"Hint"` in its JSON.
Pure functions of the rule and the value.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterable, Mapping

from localbatch.spec.buckets import BUCKET_RULE, is_bucket_name

#: How much of a wrong value a hint quotes.
QUOTE_LIMIT = 40
JSON_TYPES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}
ARTICLES = {"integer": "an", "object": "an", "array": "an"}


def quote(value: object) -> str:
    """A JSON rendering of `value`, cut to a readable length."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


def json_type(value: object) -> str:
    """`a string`, `an integer`, `null`, ... (an integral float reads as a number)."""
    return JSON_TYPES.get(type(value), type(value).__name__)


def expected_type(kind: str, value: object) -> str:
    return f"expected {ARTICLES.get(kind, 'a')} {kind}, got {json_type(value)} {quote(value)}"


def closest(name: str, candidates: Iterable[str], count: int = 1) -> list[str]:
    """The candidates that look most like `name` (case ignored), best first."""
    pool = {candidate.lower(): candidate for candidate in candidates}
    return [pool[m] for m in difflib.get_close_matches(name.lower(), list(pool), count, 0.6)]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`; did you mean X?` when a candidate is close, else nothing."""
    found = closest(name, candidates)
    return f"; did you mean {found[0]}?" if found else ""


def unknown_name(what: str, name: str, known: Collection[str]) -> str:
    """`no task is named 'spilt'; did you mean split? (tasks: split, count)`."""
    listed = ", ".join(known) if len(known) <= 10 else ", ".join(list(known)[:10]) + ", …"
    return f"no {what} is named {quote(name)}{did_you_mean(name, known)} ({what}s: {listed})"


def not_allowed(value: str, allowed: Collection[str]) -> str:
    return f"got {quote(value)}{did_you_mean(value, allowed)}; allowed: {', '.join(allowed)}"


def bad_characters(value: str, forbidden: str) -> str:
    names = {"\x00": "a NUL character", "=": "'='"}
    found = [names.get(char, repr(char)) for char in forbidden if char in value]
    return f"contains {' and '.join(found)}"


def name_characters(value: str) -> str:
    """Why a name breaks the [a-zA-Z0-9_-], no-leading-digit rule."""
    if value[:1].isdigit():
        return f"{quote(value)} starts with a digit"
    bad = sorted(
        {char for char in value if not (char.isascii() and (char.isalnum() or char in "_-"))}
    )
    return f"{quote(value)} contains {', '.join(repr(char) for char in bad)}"


def oss_path(value: str, kind: str) -> str:
    """What is wrong with an OSS path of the given kind (file, folder or mount source)."""
    schemes = ("oss://", "nas://") if kind == "mount" else ("oss://",)
    if not value.startswith(schemes):
        return f"{quote(value)} must start with {' or '.join(schemes)}"
    if value.startswith("nas://"):
        return f"{quote(value)} names no NAS file system"
    bucket = value[len("oss://") :].partition("/")[0]
    if not bucket:
        return f"{quote(value)} names no bucket"
    if not is_bucket_name(bucket):
        return f"bucket {quote(bucket)} is not a valid OSS bucket name ({BUCKET_RULE})"
    if kind == "file":
        if "/" not in value[len("oss://") :] or value.endswith("/"):
            return f"{quote(value)} is a folder; a file is oss://bucket/key without a final '/'"
    elif kind == "folder" and not value.endswith("/"):
        return f"{quote(value)} is a file; a folder ends with '/' (oss://bucket/dir/)"
    return f"{quote(value)} is not an OSS path"


def allowed_range(value: float, minimum: int, maximum: int | None, quota: str | None) -> str:
    """`got 0; allowed: 1 to 10000 (MaxTaskInstanceCount)` or `got -1; allowed: at least 0`."""
    if maximum is None:
        return f"got {quote(value)}; allowed: at least {minimum}"
    return f"got {quote(value)}; allowed: {minimum} to {maximum}" + (f" ({quota})" if quota else "")


def quota_exceeded(value: float, quota: str, limit: int, env_names: Mapping[str, str]) -> str:
    where = f"[quotas] {quota} in the config"
    if quota in env_names:
        where += f" or ${env_names[quota]}"
    return f"got {quote(value)}; the limit is {limit}, set by {where}"


def find_cycle(nodes: Collection[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """One cycle of the graph as a path that ends where it starts (`[a, b, a]`), or None."""
    downstream: dict[str, list[str]] = {node: [] for node in nodes}
    for up, down in edges:
        downstream[up].append(down)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in nodes:
        if state.get(start):
            continue
        path, stack = [start], [iter(downstream[start])]
        state[start] = 1
        while stack:
            node = next(stack[-1], None)
            if node is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(node) == 1:
                return [*path[path.index(node) :], node]
            elif not state.get(node):
                state[node] = 1
                path.append(node)
                stack.append(iter(downstream[node]))
    return None
