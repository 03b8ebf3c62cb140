"""The `acs` request signature of the BatchCompute API (api-wire.md, "Request signature").

`check_request` is what the server runs on every request when credentials are configured;
`signed_headers` is the same recipe from the client side (the CLI's `submit`, the
benchmark). Rejections say what is wrong without ever echoing the secret or the expected
signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from email.utils import formatdate, parsedate_to_datetime

from localbatch.spec.errors import ApiError

#: The real service rejects a Date further than this from its clock.
MAX_DATE_SKEW_SECONDS = 15 * 60
API_VERSION = "2015-11-11"
NONCE_HEADER = "x-acs-signature-nonce"
#: The SDK sends a UUID (36 characters); a longer nonce is refused before it is recorded.
MAX_NONCE_LENGTH = 128


def string_to_sign(method: str, headers: Mapping[str, str], target: str) -> str:
    """Method, Accept, Content-MD5, Content-Type, Date, the sorted x-acs-* headers, target.

    `headers` is case-insensitive (a multidict or a dict with the canonical names).
    """
    lines = [
        method.upper(),
        headers.get("Accept", ""),
        headers.get("Content-MD5", ""),
        headers.get("Content-Type", ""),
        headers.get("Date", ""),
    ]
    canonical = "".join(
        f"{name}:{value}\n"
        for name, value in sorted((n.lower(), v) for n, v in headers.items() if _is_acs(n))
    )
    return "\n".join(lines) + "\n" + canonical + target


def _is_acs(name: str) -> bool:
    return name.lower().startswith("x-acs-")


def signature(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def forbidden(reason: str) -> ApiError:
    return ApiError.from_catalogue("Forbidden", Reason=reason)


def check_request(
    method: str,
    headers: Mapping[str, str],
    target: str,
    *,
    access_key_id: str,
    access_key_secret: str,
    now: float,
) -> ApiError | None:
    """None when the request is signed by the configured key within the Date window.

    `headers` is a case-insensitive view of every header received, `target` the raw path
    and query exactly as sent.
    """
    authorization = headers.get("Authorization", "")
    scheme, _, credential = authorization.partition(" ")
    key_id, _, given = credential.rpartition(":")
    if scheme != "acs" or not key_id or not given:
        return forbidden(
            "The request is not signed: an 'Authorization: acs <key>:<sig>' is required."
        )
    if not hmac.compare_digest(key_id.encode(), access_key_id.encode()):
        return forbidden(f"The AccessKeyId {key_id} is not known to this server.")
    date_error = _check_date(headers.get("Date", ""), now)
    if date_error:
        return forbidden(date_error)
    nonce = headers.get(NONCE_HEADER, "")
    if not 0 < len(nonce) <= MAX_NONCE_LENGTH:
        return forbidden(
            f"The request needs an {NONCE_HEADER} header of 1 to {MAX_NONCE_LENGTH} characters."
        )
    expected = signature(access_key_secret, string_to_sign(method, headers, target))
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return forbidden("The request signature does not match the one computed by the server.")
    return None


def date_sent(value: str) -> float | None:
    """The instant an RFC 1123 `Date` header names; None when it names none."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None


def _check_date(value: str, now: float) -> str:
    if not value:
        return "The request has no Date header."
    sent = date_sent(value)
    if sent is None:
        return f"The Date header {value!r} is not an RFC 1123 date."
    if abs(sent - now) > MAX_DATE_SKEW_SECONDS:
        return "The Date header is more than 15 minutes away from the server's clock."
    return ""


def signed_headers(
    method: str,
    target: str,
    *,
    access_key_id: str,
    access_key_secret: str,
    region: str,
    now: float,
) -> dict[str, str]:
    """The headers the official SDK sends, signed (no Authorization without a key)."""
    headers = {
        "Date": formatdate(now, usegmt=True),
        "Accept": "application/json",
        "Content-Type": "application/json",
        "x-acs-version": API_VERSION,
        "x-acs-region-id": region,
        "x-acs-signature-method": "HMAC-SHA1",
        "x-acs-signature-version": "1.0",
        "x-acs-signature-nonce": str(uuid.uuid4()),
    }
    if access_key_id:
        headers["x-acs-access-key-id"] = access_key_id
        text = string_to_sign(method, headers, target)
        headers["Authorization"] = f"acs {access_key_id}:{signature(access_key_secret, text)}"
    return headers
