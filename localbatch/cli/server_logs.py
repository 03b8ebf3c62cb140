"""What `localbatch serve` logs: one line per request, per job state change and as an image
is prepared on first use, and one line, not a traceback, when a client sends something that
is not HTTP.

aiohttp logs every unparsable request (a TLS client on an http:// port, a port scanner)
with a full traceback on its `aiohttp.server` logger; the client already got its 400.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from localbatch.cli.terminal_text import safe_text
from localbatch.events import Event

if TYPE_CHECKING:
    from localbatch.runtime.image_supply import ImagePreparation

#: The logger aiohttp reports request handling errors on.
AIOHTTP_SERVER_LOGGER = "aiohttp.server"
#: The API's one line per answered request (localbatch.server.app).
REQUEST_LOGGER = "localbatch.server.requests"
#: One line per job state change, and per image preparation begun and ended.
JOB_LOGGER = "localbatch.server.jobs"
LINE_FORMAT = "%(asctime)s %(message)s"


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is when a line is logged (not when it was installed)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(LINE_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def show_activity(requests: bool) -> None:
    """Send job state changes (and, with `requests`, every request) to stderr, timestamped.

    Calling it again replaces what an earlier call set up.
    """
    for name in (JOB_LOGGER, REQUEST_LOGGER):
        logger = logging.getLogger(name)
        logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, _Stderr)]
        if name == JOB_LOGGER or requests:
            logger.setLevel(logging.INFO)
            logger.addHandler(_Stderr())
            logger.propagate = False
        else:
            logger.setLevel(logging.WARNING)


def log_job_state(event: Event) -> None:
    """An event listener: `job <id> Running`, `job <id> Failed: <message>`, ...

    Task and instance events are left out: a job of thousands of instances would flood
    the log (the job commands show them).
    """
    log = logging.getLogger(JOB_LOGGER)
    if event.name == "OnPriorityChange":
        log.info("job %s priority %s", event.job_id, event.detail.get("priority"))
    elif event.category == "Job":
        message = event.detail.get("message") or ""
        log.info("job %s %s%s", event.job_id, event.state.value, f": {message}" if message else "")


def log_image_preparation(preparation: ImagePreparation) -> None:
    """A preparation listener (`TellsPreparation`): `preparing image X for the sandbox
    (first use: …)…` as it begins, `image X ready …` as it ends, so that a job waiting many
    seconds for its image is not silent in the log."""
    logging.getLogger(JOB_LOGGER).info("%s", safe_text(preparation.line()))


class BadRequestOneLine(logging.Filter):
    """Rewrites aiohttp's bad-request records to one line; other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            first = (exc.message or "").strip().splitlines()
            reason = first[0].rstrip(":") if first else type(exc).__name__
            record.msg = "refused a request that is not HTTP (%s); a TLS client on http://?"
            record.args = (reason,)
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_bad_requests() -> None:
    """Install the filter once (idempotent), for servers started from the command line."""
    logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    if not any(isinstance(f, BadRequestOneLine) for f in logger.filters):
        logger.addFilter(BadRequestOneLine())
