"""A request that is not HTTP is one log line, not aiohttp's traceback; an image prepared on
first use is logged as it begins and ends."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.http_exceptions import BadStatusLine

from localbatch.cli.server_logs import (
    JOB_LOGGER,
    BadRequestOneLine,
    log_image_preparation,
    show_activity,
)
from localbatch.runtime.image_supply import ImagePreparation

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


@pytest.fixture
def job_logger_restored() -> Iterator[None]:
    logger = logging.getLogger(JOB_LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.mark.usefixtures("job_logger_restored")
def test_an_image_preparation_is_logged_as_it_begins_and_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    show_activity(requests=False)  # the job lines, which --no-request-log keeps
    begun = ImagePreparation("team/x:1", "the Docker engine")
    log_image_preparation(begun)
    log_image_preparation(ImagePreparation("team/x:1", "the Docker engine", seconds=18.25))
    lines = [line.split(" ", 2)[2] for line in capsys.readouterr().err.splitlines()]
    assert lines == [begun.line(), "image team/x:1 ready for the sandbox (prepared in 18.2s)"]
