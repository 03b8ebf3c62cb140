"""Range and conditional headers, as OSS applies them."""

from __future__ import annotations

import pytest

from localbatch.ossendpoint.conditions import check_preconditions, parse_range
from localbatch.ossendpoint.errors import OssError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=100-200", None),  # starts past the end: the whole object
        ("bytes=9-3", None),
        ("bytes=0-1,5-6", None),  # several ranges: OSS answers the whole object
        ("items=0-1", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100, standard=False) == expected


def test_standard_behaviour_refuses_unsatisfiable_ranges() -> None:
    with pytest.raises(OssError) as caught:
        parse_range("bytes=100-200", 100, standard=True)
    assert (caught.value.status, caught.value.code) == (416, "InvalidRange")
    assert parse_range("bytes=0-9", 100, standard=True) == (0, 9)


def test_empty_object_has_no_range() -> None:
    assert parse_range("bytes=-5", 0, standard=False) is None


MTIME = 1_700_000_000.0
BEFORE = "Mon, 13 Nov 2023 00:00:00 GMT"  # earlier than MTIME
AFTER = "Fri, 01 Jan 2100 00:00:00 GMT"


def test_if_match_and_unmodified_since_fail_with_412() -> None:
    assert check_preconditions({"if-match": '"ABC"'}, "ABC", MTIME)
    with pytest.raises(OssError) as caught:
        check_preconditions({"if-match": '"OTHER"'}, "ABC", MTIME)
    assert caught.value.status == 412
    with pytest.raises(OssError):
        check_preconditions({"if-unmodified-since": BEFORE}, "ABC", MTIME)


def test_if_none_match_and_modified_since_answer_not_modified() -> None:
    assert not check_preconditions({"if-none-match": '"ABC"'}, "ABC", MTIME)
    assert not check_preconditions({"if-modified-since": AFTER}, "ABC", MTIME)
    assert check_preconditions({"if-modified-since": BEFORE}, "ABC", MTIME)


def test_copy_source_conditions_fail_instead_of_not_modified() -> None:
    headers = {"x-oss-copy-source-if-none-match": '"ABC"'}
    with pytest.raises(OssError):
        check_preconditions(headers, "ABC", MTIME, prefix="x-oss-copy-source-")
