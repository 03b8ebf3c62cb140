"""Strict JSON text for job bodies: bounded nesting, valid Unicode, finite bounded numbers.

Python's `json` accepts more than a body may hold: nesting as deep as the interpreter's
recursion limit allows (so the same text parses or fails depending on the caller's stack),
lone UTF-16 surrogates from `"\\ud800"` escapes (strings no UTF-8 output can carry), `1e400`
read as infinity, and integers as long as `sys.int_info` permits. `loads` refuses each of
these with a ValueError saying why, before or without any recursion of its own: the
nesting is measured on the text, iteratively, and only text within `MAX_JSON_DEPTH` is
handed to the parser.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any, NoReturn

#: Deepest nesting of arrays and objects a body may have (a job body needs about 10).
MAX_JSON_DEPTH = 64
#: Longest number literal, in characters (a 64-bit integer has at most 20).
MAX_NUMBER_LENGTH = 100

#: A complete JSON string literal (the unrolled form: no backtracking on long strings).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
#: Brackets measured at a time, so that text far too deep is refused early.
_CHUNK = 1 << 16
#: An escape that may stand for half of a surrogate pair, or a surrogate code point itself.
_MAYBE_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]|[\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class JsonTextError(ValueError):
    """Text that is JSON to Python but not a body localbatch accepts; says why."""


def nests_deeper(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest more than `limit` levels, measured without
    recursion. Brackets inside string literals do not count; in text that is not JSON an
    unterminated string's brackets do (such text is refused anyway)."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    level = 0
    for start in range(0, len(brackets), _CHUNK):
        chunk = brackets[start : start + _CHUNK]
        levels = list(itertools.accumulate(map(_STEP.__getitem__, chunk), initial=level))
        if max(levels) > limit:
            return True
        level = levels[-1]
    return False


def loads(text: str) -> Any:
    """`json.loads` for bodies: raises JsonTextError (a ValueError) for what it refuses,
    JSONDecodeError for text that is not JSON at all."""
    if nests_deeper(text, MAX_JSON_DEPTH):
        raise JsonTextError(f"nested more than {MAX_JSON_DEPTH} levels deep")
    value = json.loads(
        text, parse_constant=_not_json, parse_float=_finite_float, parse_int=_bounded_int
    )
    if _MAYBE_SURROGATE.search(text):
        _refuse_lone_surrogates(value)
    return value


def _not_json(name: str) -> NoReturn:
    """NaN and Infinity are Python's extensions of JSON; the service refuses them."""
    raise JsonTextError(f"{name} is not JSON")


def _check_length(literal: str) -> None:
    if len(literal) > MAX_NUMBER_LENGTH:
        raise JsonTextError(
            f"a number of {len(literal)} characters; at most {MAX_NUMBER_LENGTH} are accepted"
        )


def _finite_float(literal: str) -> float:
    _check_length(literal)
    value = float(literal)
    if not math.isfinite(value):
        raise JsonTextError(f"the number {literal} is out of range")
    return value


def _bounded_int(literal: str) -> int:
    _check_length(literal)
    return int(literal)


def _refuse_lone_surrogates(value: Any) -> None:
    """Walk every key and string (iteratively): a lone surrogate is not Unicode text."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and (found := _SURROGATE.search(item)):
            raise JsonTextError(
                f"the string {item[:40]!a} holds a lone surrogate "
                f"({found.group()!a}): it is not Unicode text"
            )
