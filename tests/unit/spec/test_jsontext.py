"""Strict JSON text: the nesting limit is a number, not the caller's stack; lone surrogates
and numbers out of range are refused; what is refused is InvalidJsonFormat everywhere."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from localbatch.spec.errors import ApiError
from localbatch.spec.jsontext import MAX_JSON_DEPTH, JsonTextError, loads, nests_deeper
from localbatch.spec.load import parse_body
from localbatch.spec.validate import validate
from tests.unit.spec.bodies import job_body

DEPTHS = [1, 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 1_000, 10_000, 200_000]


def _nested(depth: int) -> str:
    """A valid body whose unknown member makes the whole text `depth` levels deep."""
    body = json.dumps(job_body(Unknown="LEAF"))
    inner = "[" * (depth - 1) + '"x"' + "]" * (depth - 1)
    return body.replace('"LEAF"', inner)


def _outcome(text: str) -> Any:
    """What validating this text answers: the codes of its errors, or the parse error."""
    try:
        body = parse_body(text)
    except ApiError as error:
        return error.code
    return [error.code for error in validate(body).errors]


def _in_thread(func: Callable[[], Any], stack_size: int = 0) -> Any:
    results: list[Any] = []
    previous = threading.stack_size(stack_size)
    try:
        thread = threading.Thread(target=lambda: results.append(func()))
        thread.start()
        thread.join()
    finally:
        threading.stack_size(previous)
    return results[0]


def test_the_depth_limit_is_the_documented_number() -> None:
    expected = {depth: _outcome(_nested(depth)) for depth in DEPTHS}
    for depth, outcome in expected.items():
        if depth <= MAX_JSON_DEPTH:
            assert outcome != "InvalidJsonFormat", depth
        else:
            assert outcome == "InvalidJsonFormat", depth


def test_the_outcome_does_not_depend_on_the_recursion_limit_or_the_stack() -> None:
    texts = {depth: _nested(depth) for depth in DEPTHS}
    expected = {depth: _outcome(text) for depth, text in texts.items()}
    # A thread with a small stack: deep text must never reach a recursive parser there.
    small_stack = _in_thread(lambda: {d: _outcome(t) for d, t in texts.items()}, 256 * 1024)
    assert small_stack == expected
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        assert {depth: _outcome(text) for depth, text in texts.items()} == expected
        assert _in_thread(lambda: {d: _outcome(t) for d, t in texts.items()}) == expected
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize(
    ("text", "deeper"),
    [
        ("{}", False),
        ('{"a": "[[[[[[[[[[[[["}', False),
        ('["\\"[[[[[[[[[["]', False),
        ("[" * 5 + "]" * 5, False),
        ("[" * 6 + "]" * 6, True),
        ('[{"a": [{"b": [1]}]}]', False),
        ('[{"a": [{"b": [[1]]}]}]', True),
        ("[" * 1_000_000, True),
    ],
)
def test_nesting_is_measured_on_the_text(text: str, deeper: bool) -> None:
    assert nests_deeper(text, 5) is deeper


@pytest.mark.parametrize(
    "text",
    [
        '{"\\ud800": 1}',
        '{"a": "\\udfff"}',
        '{"a": ["x", {"b": "\\uDBFF"}]}',
        '{"a": "\\ude00\\ud83d"}',  # a pair in the wrong order is two lone halves
        '{"a": "\ud800"}',  # a surrogate in the text itself (a str body)
    ],
)
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(JsonTextError, match="lone surrogate"):
        loads(text)


def test_surrogate_pairs_are_text() -> None:
    assert loads('{"a": "\\ud83d\\ude00"}') == {"a": "\N{GRINNING FACE}"}


@pytest.mark.parametrize(
    "text", ["[1e400]", "[-1e400]", "[" + "9" * 101 + "]", "[0." + "1" * 100 + "]", "[NaN]"]
)
def test_numbers_out_of_range_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        loads(text)
    with pytest.raises(ApiError) as raised:
        parse_body("{" + f'"a": {text}' + "}")
    assert raised.value.code == "InvalidJsonFormat"


def test_numbers_in_range_are_kept() -> None:
    assert loads("[1e300, -5, 18446744073709551616, 0.5]") == [1e300, -5, 2**64, 0.5]
