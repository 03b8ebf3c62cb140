"""OSS errors: one exception and one catalogue of (status, message) per OSS error code.

oss2 turns an error into a typed exception from the pair (HTTP status, `<Code>`), so both
must match the service exactly; the message texts follow the service's wording.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from xml.sax.saxutils import escape

#: code -> (HTTP status, default message). Only codes this endpoint can answer.
CATALOGUE: Mapping[str, tuple[int, str]] = {
    "AccessDenied": (403, "You have no right to access this object."),
    "BucketNotEmpty": (409, "The bucket you tried to delete is not empty."),
    "EntityTooLarge": (400, "Your proposed upload exceeds the maximum allowed object size."),
    "EntityTooSmall": (400, "Your proposed upload is smaller than the minimum allowed size."),
    "FileAlreadyExists": (
        409,
        "The object you specified already exists and can not be overwritten.",
    ),
    "IncompleteBody": (400, "The request body is shorter than its Content-Length."),
    "InvalidAccessKeyId": (
        403,
        "The OSS Access Key Id you provided does not exist in our records.",
    ),
    "InvalidArgument": (400, "Invalid argument."),
    "InvalidBucketName": (400, "The specified bucket is not valid."),
    "InvalidDigest": (400, "The Content-MD5 you specified was invalid."),
    "InvalidObjectName": (400, "The specified object is not valid."),
    "InvalidPart": (
        400,
        "One or more of the specified parts could not be found or the specified "
        "entity tag might not have matched the part's entity tag.",
    ),
    "InvalidPartOrder": (400, "The list of parts was not in ascending order."),
    "InvalidRange": (416, "The requested range cannot be satisfied."),
    "MalformedXML": (
        400,
        "The XML you provided was not well-formed or did not validate against "
        "our published schema.",
    ),
    "MethodNotAllowed": (405, "The specified method is not allowed against this resource."),
    "MissingContentLength": (411, "You must provide the Content-Length HTTP header."),
    "NoSuchBucket": (404, "The specified bucket does not exist."),
    "NoSuchKey": (404, "The specified key does not exist."),
    "NoSuchUpload": (
        404,
        "The specified upload does not exist. The upload ID may be invalid, "
        "or the upload may have been aborted or completed.",
    ),
    "NotImplemented": (
        501,
        "A header or parameter you provided implies functionality that is "
        "not implemented by the local OSS endpoint.",
    ),
    "ObjectNotAppendable": (409, "The object is not appendable."),
    "PositionNotEqualToLength": (409, "Position is not equal to file length."),
    "PreconditionFailed": (412, "At least one of the pre-conditions you specified did not hold."),
    "RequestTimeTooSkewed": (
        403,
        "The difference between the request time and the current time is too large.",
    ),
    "SignatureDoesNotMatch": (
        403,
        "The request signature we calculated does not match the "
        "signature you provided. Check your key and signing method.",
    ),
    "InternalError": (500, "We encountered an internal error. Please try again."),
}


class OssError(Exception):
    """An answer in OSS's error format; `extra` adds elements such as `<Key>`."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        extra: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        status, default_message = CATALOGUE[code]
        super().__init__(message or default_message)
        self.code = code
        self.status = status
        self.message = message or default_message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


def error_xml(error: OssError, request_id: str, host_id: str) -> bytes:
    """The `<Error>` document the service returns (no namespace, as oss2 parses it)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
        f"<Code>{escape(error.code)}</Code>",
        f"<Message>{escape(error.message)}</Message>",
        f"<RequestId>{escape(request_id)}</RequestId>",
        f"<HostId>{escape(host_id)}</HostId>",
    ]
    parts.extend(f"<{name}>{escape(value)}</{name}>" for name, value in error.extra.items())
    parts.append("</Error>\n")
    return "".join(parts).encode()


def error_headers(error: OssError, body: bytes, *, head_request: bool) -> dict[str, str]:
    """Headers of an error answer; a HEAD answer has no body, so oss2 reads `x-oss-err`."""
    headers = {"Content-Type": "application/xml", "x-oss-ec": error.code, **error.headers}
    if head_request:
        headers["x-oss-err"] = base64.b64encode(body).decode()
    return headers
