"""Reading a job body from text, a file or stdin, with the service's errors for bad JSON.

`parse_body` is what the HTTP API and the CLI share: strict JSON (`jsontext`: UTF-8, no NaN,
Infinity or out-of-range numbers, no lone surrogates, at most `MAX_JSON_DEPTH` levels, the
same whatever the caller's stack), and the body must be an object.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localbatch.spec import jsontext
from localbatch.spec.errors import ApiError
from localbatch.spec.hints import json_type
from localbatch.spec.model import Job, parse_job
from localbatch.spec.validate import ValidationReport, validate


class JobFileError(Exception):
    """The job file cannot be read at all (missing, a directory, no permission)."""


class InvalidJob(Exception):
    """A job body that validation refused; carries the whole report."""

    def __init__(self, report: ValidationReport) -> None:
        first = report.errors[0]
        super().__init__(f"{first.http_status} {first.code}: {first.message} (at {first.path})")
        self.report = report


def where_it_breaks(cause: BaseException) -> str:
    """Where a body stops being JSON, which the service's InvalidJsonFormat never says."""
    if isinstance(cause, json.JSONDecodeError):
        return f"line {cause.lineno} column {cause.colno}: {cause.msg}"
    if isinstance(cause, UnicodeDecodeError):
        return f"byte {cause.start}: not UTF-8"
    return str(cause)


def parse_body(data: bytes | str) -> dict[str, Any]:
    """Decode a request body: 400 InvalidJsonFormat or 400 InvalidHttpBody when unusable.

    The error's hint says where the JSON breaks (line and column) or what the body is.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        body = jsontext.loads(text)
    except ValueError as exc:
        # UnicodeDecodeError, JSONDecodeError and JsonTextError are ValueErrors.
        raise ApiError.from_catalogue("InvalidJsonFormat", hint=where_it_breaks(exc)) from None
    if not isinstance(body, dict):
        hint = f"the body is {json_type(body)}, not an object"
        raise ApiError.from_catalogue("InvalidHttpBody", hint=hint)
    return body


def read_body(source: str | Path) -> dict[str, Any]:
    """Read a body from a file, or from stdin when `source` is `-`."""
    if str(source) == "-":
        return parse_body(sys.stdin.buffer.read())
    try:
        data = Path(source).read_bytes()
    except OSError as exc:
        raise JobFileError(f"cannot read {source}: {exc.strerror or exc}") from None
    return parse_body(data)


def load_job(source: str | Path, quotas: Mapping[str, int] | None = None) -> Job:
    """Read, validate and parse a job file; raises InvalidJob, ApiError or JobFileError."""
    body = read_body(source)
    report = validate(body, quotas)
    if not report.valid:
        raise InvalidJob(report)
    return parse_job(body)
