"""One line, not a traceback, when a client sends a server something that is not HTTP.

aiohttp logs every unparsable request (a TLS client on an http:// port, a port scanner)
with a full traceback on its `aiohttp.server` logger; the client already got its 400.
"""

from __future__ import annotations

import logging

#: The logger aiohttp reports request handling errors on.
AIOHTTP_SERVER_LOGGER = "aiohttp.server"


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
