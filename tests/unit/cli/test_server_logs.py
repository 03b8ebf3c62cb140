"""A request that is not HTTP is one log line, not aiohttp's traceback."""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp.http_exceptions import BadStatusLine

from localbatch.cli.server_logs import BadRequestOneLine

MESSAGE = "Error handling request"


def _record(exc_info: Any) -> logging.LogRecord:
    return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, MESSAGE, None, exc_info)


def test_bad_request_becomes_one_line() -> None:
    exc = BadStatusLine("\\x16\\x03\\x01 garbage")
    record = _record((type(exc), exc, None))
    assert BadRequestOneLine().filter(record)
    assert record.exc_info is None
    message = record.getMessage()
    assert message.startswith("refused a request that is not HTTP (")
    assert "\n" not in message


def test_other_errors_keep_their_traceback() -> None:
    try:
        raise ValueError("a bug in a handler")
    except ValueError:
        record = _record(sys.exc_info())
    assert BadRequestOneLine().filter(record)
    assert record.exc_info is not None
    assert record.getMessage() == MESSAGE
