"""Range and conditional headers of GetObject / HeadObject / CopyObject, as OSS applies them.

OSS serves the whole object (200) for a Range it cannot parse or that starts past the end,
unless the client asks for standard behaviour (`x-oss-range-behavior: standard`), which
answers 416 InvalidRange instead. An end past the last byte is cut to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from localbatch.ossendpoint.errors import OssError

_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int, *, standard: bool) -> tuple[int, int] | None:
    """(first, last) byte positions to send, or None for the whole object."""
    if not header:
        return None
    match = _SINGLE_RANGE.match(header.strip().replace(" ", ""))
    if not match or match.group(0) == "bytes=-":
        return _whole_or_invalid(header, size, standard)
    first_text, last_text = match.groups()
    if not first_text:  # suffix range: the last N bytes
        count = int(last_text)
        if count == 0 or size == 0:
            return _whole_or_invalid(header, size, standard)
        return max(size - count, 0), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last < first or first >= size:
        return _whole_or_invalid(header, size, standard)
    return first, min(last, size - 1)


def _whole_or_invalid(header: str, size: int, standard: bool) -> tuple[int, int] | None:
    """An unusable Range: the whole object (None), or InvalidRange for standard behaviour."""
    if standard:
        raise OssError(
            "InvalidRange", extra={"RangeRequested": header, "ActualObjectSize": str(size)}
        )
    return None


def _date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [value.strip().strip('"').upper() for value in header.split(",")]
    return "*" in candidates or etag.upper() in candidates


def check_preconditions(
    headers: Mapping[str, str], etag: str, mtime: float, *, prefix: str = ""
) -> bool:
    """Raise PreconditionFailed (412) or return False for 304 Not Modified; True to proceed.

    `prefix` is "x-oss-copy-source-" for CopyObject's conditions on its source.
    """
    whole_seconds = int(mtime)
    if_match = headers.get(f"{prefix}if-match")
    if if_match is not None and not _etag_matches(if_match, etag):
        raise OssError("PreconditionFailed", extra={"Condition": "If-Match"})
    unmodified = headers.get(f"{prefix}if-unmodified-since")
    since = _date(unmodified) if unmodified else None
    if since is not None and whole_seconds > since:
        raise OssError("PreconditionFailed", extra={"Condition": "If-Unmodified-Since"})
    not_modified = False
    if_none_match = headers.get(f"{prefix}if-none-match")
    if if_none_match is not None and _etag_matches(if_none_match, etag):
        not_modified = True
    modified = headers.get(f"{prefix}if-modified-since")
    since = _date(modified) if modified else None
    if since is not None and whole_seconds <= since:
        not_modified = True
    if not_modified and prefix:
        raise OssError("PreconditionFailed", extra={"Condition": "If-None-Match/If-Modified-Since"})
    return not not_modified
