"""Identifiers in the service's format."""

from __future__ import annotations

import re
import uuid

JOB_ID_PATTERN = re.compile(r"^job-[0-9A-F]{32}$")


def new_job_id() -> str:
    """`job-` + 32 upper-case hex digits, as the service issues them."""
    return "job-" + uuid.uuid4().hex.upper()


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()
