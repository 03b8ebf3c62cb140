"""Headers the API refuses before it reads anything else of a request.

- A header value must be printable ASCII (and tabs): the SDK signs its headers as ASCII,
  and anything else would reach signatures, the store and error messages as text that
  cannot be encoded back.
- Bodies are not decompressed: any `Content-Encoding` but `identity` is refused (the
  server is started with decompression off, so nothing is inflated before this answer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from localbatch.spec.errors import ApiError

_NOT_PRINTABLE_ASCII = re.compile(rb"[^\t\x20-\x7e]")


def invalid_header(name: str, reason: str) -> ApiError:
    return ApiError.from_catalogue("InvalidHeader", Header=name, Reason=reason)


def header_error(raw_headers: Iterable[tuple[bytes, bytes]]) -> ApiError | None:
    """400 InvalidHeader for the first header the API does not accept."""
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("ascii", "replace")
        if _NOT_PRINTABLE_ASCII.search(raw_value):
            return invalid_header(name, "Its value must only contain printable ASCII characters.")
        if name.lower() == "content-encoding" and raw_value.strip().lower() not in (
            b"",
            b"identity",
        ):
            return invalid_header(
                name, "Request bodies are not decompressed: send them with no Content-Encoding."
            )
    return None
