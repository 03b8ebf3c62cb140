"""The service's time format, shared by the HTTP API and notification messages."""

from __future__ import annotations

from datetime import UTC, datetime

#: UTC with the fraction, e.g. "2026-11-25T16:29:48.123456Z" (clients parse nothing else).
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def api_time(moment: float | None) -> str:
    """POSIX seconds -> the service's format; an unset time is ""."""
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, UTC).strftime(TIME_FORMAT)
